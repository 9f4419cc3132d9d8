"""Which issue a command means when no month is given: the one the newest unsent items need.

`build`, `check`, `preview` and `send` without a month used to take the last full month,
so an item written today for this month's issue was missing from the default build. Now
the choice follows the items: the month of the newest item that no send has covered yet
(an issue counts as sent once a real run for its month exists in the journal; a
rehearsal into the outbox does not count). When every item has gone out (or there are
none), the last full month stays the answer. Reads the item folder and the journal,
writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from newsletter import journal
from newsletter.config import Config
from newsletter.daterange import DateRange, parse_range
from newsletter.issue import Item, load_items

__all__ = ["ChosenIssue", "next_issue"]


@dataclass(frozen=True)
class ChosenIssue:
    range: DateRange
    why: str  # said to the officer: "the month of the newest unsent item (items/...yaml)"


def _sent_slugs(config: Config) -> set[str]:
    if not journal.exists(config.state):  # never sent from here: do not create the state file
        return set()
    with contextlib.closing(journal.connect(config.state)) as db:
        return {run.slug for run in journal.list_runs(db) if not run.rehearsal}  # a rehearsal sent nobody anything


def next_issue(config: Config, /, *, today: dt.date | None = None) -> ChosenIssue:
    """The month holding the newest item not yet sent, or the last full month."""
    fallback = parse_range(None, None, None, today=today)
    items: list[Item] = load_items(config.items_dir, root=config.root) if config.items_dir.is_dir() else []
    sent = _sent_slugs(config)
    unsent = [item for item in items if item.date.strftime("%Y-%m") not in sent]
    if not unsent:
        why = "every item has been sent" if items else "there are no items yet"
        return ChosenIssue(fallback, f"the last full month ({why})")
    newest = max(unsent, key=lambda item: (item.date, item.path))
    chosen = parse_range(newest.date.strftime("%Y-%m"), None, None)
    return ChosenIssue(chosen, f"the month of the newest item not sent yet ({newest.path}, {newest.date.isoformat()})")
