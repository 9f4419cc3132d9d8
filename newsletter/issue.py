"""Choosing an issue's items: date-range selection, theme grouping and ordering.

Pure functions over `Item`s: the range is inclusive at both ends, themes follow the
config's display order, items run newest first within a theme, empty themes are left out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
from dataclasses import dataclass

from .config import Config, theme_key
from .errors import BuildError, ItemError, NewsletterError, raise_all
from .items import Item

__all__ = ["DateRange", "Section", "Issue", "parse_range", "select_items", "group_items", "make_issue"]


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


@dataclass(frozen=True)
class Section:
    theme: str
    anchor: str  # id of the section in the HTML, linked from the table of contents
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Issue:
    range: DateRange
    sections: tuple[Section, ...]

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    @property
    def themes(self) -> list[str]:
        return [section.theme for section in self.sections]

    def only(self, themes: set[str]) -> Issue:
        """The same issue with only the sections whose theme is in `themes` (by theme key)."""
        keys = {theme_key(t) for t in themes}
        return Issue(self.range, tuple(s for s in self.sections if theme_key(s.theme) in keys))


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


def select_items(items: list[Item], date_range: DateRange) -> list[Item]:
    return [item for item in items if item.date in date_range]


def _anchor(theme: str) -> str:
    return "theme-" + (re.sub(r"[^a-z0-9]+", "-", theme.lower()).strip("-") or "x")


def group_items(items: list[Item], config: Config) -> tuple[Section, ...]:
    """Sections in config order, newest first within each; unknown themes are errors."""
    by_theme: dict[str, list[Item]] = {theme: [] for theme in config.themes}
    errors: list[NewsletterError] = []
    for item in items:
        theme = config.theme_named(item.theme) if item.theme else None
        if theme is None:
            errors.append(_theme_error(item, config))
            continue
        by_theme[theme].append(item)
    raise_all(errors)
    return tuple(
        Section(theme, _anchor(theme), tuple(sorted(found, key=lambda i: (i.date, i.title), reverse=True)))
        for theme, found in by_theme.items()
        if found
    )


def _theme_error(item: Item, config: Config) -> ItemError:
    choices = ", ".join(config.themes)
    if not item.theme:
        return ItemError("no theme set", path=item.path, line=item.line, field="theme",
                         hint=f"set one of: {choices}")
    keys = {theme_key(t): t for t in config.themes}
    close = difflib.get_close_matches(theme_key(item.theme), list(keys), n=1, cutoff=0.6)
    hint = f"did you mean {keys[close[0]]!r}?" if close else f"use one of: {choices}, or add it to themes in the config"
    return ItemError(f"unknown theme {item.theme!r}", path=item.path, line=item.line, field="theme", hint=hint)


def make_issue(items: list[Item], config: Config, date_range: DateRange) -> Issue:
    selected = select_items(items, date_range)
    if not selected:
        raise BuildError(
            f"no items dated {date_range.start} to {date_range.end}",
            path="items/",
            hint="check the month, or add item files with dates in that range",
        )
    return Issue(date_range, group_items(selected, config))
