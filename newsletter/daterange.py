"""An issue's period: `2023-07` means 1-31 July 2023; `--since/--until` are inclusive.

Every stage that names a period (build, collect, archive, the CLI's options) shares this,
so it sits at the top with no dependency beyond `errors`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from newsletter.errors import BuildError

__all__ = ["DateRange", "parse_range"]


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date

    @property
    def is_month(self) -> bool:
        last = calendar.monthrange(self.start.year, self.start.month)[1]
        return self.start.day == 1 and self.end == self.start.replace(day=last)

    @property
    def slug(self) -> str:
        """The folder name under issues/: `2023-07` for a month, else `START_END`."""
        if self.is_month:
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @property
    def label(self) -> str:
        """How the period reads in a subject line: `July 2023`, `1 June to 15 July 2023`."""
        if self.is_month:
            return f"{self.start:%B %Y}"
        start = f"{self.start.day} {self.start:%B}"
        if self.start.year != self.end.year:
            start += f" {self.start.year}"
        return f"{start} to {self.end.day} {self.end:%B %Y}"

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_range(month: str | None, since: str | None, until: str | None, *,
                today: dt.date | None = None) -> DateRange:
    """`2023-07` = 1-31 July; `--since/--until` ISO dates inclusive; neither = last full month."""
    today = today or dt.date.today()
    if month and (since or until):
        raise BuildError("give a month or --since/--until, not both", hint="e.g. build 2023-07")
    if month:
        match = _MONTH.match(month.strip())
        if not match or not 1 <= int(match[2]) <= 12:
            raise BuildError(f"not a month: {month!r}", hint="write it as YYYY-MM, e.g. 2023-07")
        year, mon = int(match[1]), int(match[2])
        return DateRange(dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1]))
    if since or until:
        start = _iso(since, "--since") if since else None
        end = _iso(until, "--until") if until else today
        if start is None:
            start = end.replace(day=1)
        if start > end:
            raise BuildError(f"--since {start} is after --until {end}", hint="swap the two dates")
        return DateRange(start, end)
    last_of_previous = today.replace(day=1) - dt.timedelta(days=1)
    return DateRange(last_of_previous.replace(day=1), last_of_previous)


def _iso(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BuildError(f"{option}: not a date: {value!r}", hint="write it as YYYY-MM-DD") from None
