"""The issue report: what a send reached, who left and joined, and which items readers followed.

`issue_report(config, db, date_range)` adds up, for one issue:

| figure                 | from                                                     |
|------------------------|----------------------------------------------------------|
| list size              | the run's recipients, skipped ones left out             |
| delivered / deferred / failed | the run's recipient states                        |
| bounced                | bounces imported for the run (distinct addresses)        |
| unsubscribed, complained | suppressions recorded from this send to the next one   |
| sign-ups               | confirmations since the previous send                     |
| clicks per item, theme | counted links (`tracking.clicks`), matched to the items as they are now |

and the same figures (with rates per delivered message) for every issue sent, month by
month. Rehearsals into the embedded outbox reached no reader and are left out. Clicks
are counted, not readers: a reader who clicks twice counts twice, and nothing can tell
two readers apart. A count from 1 to 4 is shown as "fewer than 5" (`shown`): a small
number next to a small list could point at a person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from newsletter import journal
from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.errors import NewsletterError
from newsletter.issue import Issue, item_anchors, prepare_issue

__all__ = ["FEWER_THAN", "IssueNumbers", "IssueReport", "ItemClicks", "ThemeClicks", "issue_report", "shown"]

FEWER_THAN = 5


def shown(count: int) -> str:
    """A count as the report shows it: "fewer than 5" for 1-4, else the number."""
    return f"fewer than {FEWER_THAN}" if 0 < count < FEWER_THAN else str(count)


@dataclass(frozen=True)
class IssueNumbers:
    """One send's figures; rates are per delivered message (0 when nothing was delivered)."""

    slug: str
    sent: str  # when the run started (UTC, ISO 8601)
    list_size: int
    delivered: int
    deferred: int
    failed: int
    bounced: int
    complained: int
    unsubscribed: int
    signups: int
    clicks: int

    def rate(self, count: int) -> float:
        return count / self.delivered if self.delivered else 0.0


@dataclass(frozen=True)
class ItemClicks:
    title: str
    theme: str
    clicks: int


@dataclass(frozen=True)
class ThemeClicks:
    theme: str
    items: int
    clicks: int
    click_share: float  # of the issue's item clicks
    issue_share: float  # of the issue's items


@dataclass(frozen=True)
class IssueReport:
    numbers: IssueNumbers
    items: list[ItemClicks] = field(default_factory=list)
    themes: list[ThemeClicks] = field(default_factory=list)
    other_clicks: int = 0  # on URLs no current item has (an item edited or removed since)
    history: list[IssueNumbers] = field(default_factory=list)
    tracking: bool = False

    def as_json(self) -> dict[str, Any]:
        """The report as JSON: counts as numbers, and as shown (`fewer than 5`) beside them."""
        def numbers(n: IssueNumbers) -> dict[str, Any]:
            data = asdict(n)
            data["clicks_shown"] = shown(n.clicks)
            data["rates"] = {k: round(n.rate(getattr(n, k)), 4)
                             for k in ("bounced", "complained", "unsubscribed", "clicks")}
            return data

        return {
            "issue": numbers(self.numbers),
            "tracking": self.tracking,
            "items": [{**asdict(i), "clicks_shown": shown(i.clicks)} for i in self.items],
            "themes": [{**asdict(t), "clicks_shown": shown(t.clicks), "click_share": round(t.click_share, 4),
                        "issue_share": round(t.issue_share, 4)} for t in self.themes],
            "other_clicks": self.other_clicks,
            "history": [numbers(n) for n in self.history],
        }


def _numbers(db: journal.Db, run: journal.Run, previous: journal.Run | None,
             following: journal.Run | None) -> IssueNumbers:
    counts = journal.run_counts(db, run.id)
    bounces = journal.bounce_counts(db, run.id)
    left = journal.suppressions_between(db, run.created, following.created if following else None)
    return IssueNumbers(
        slug=run.slug,
        sent=run.created,
        list_size=journal.list_size(db, run.id),
        delivered=counts["sent"],
        deferred=counts["deferred"],
        failed=counts["failed"],
        bounced=bounces["hard"] + bounces["soft"],
        complained=left.get(journal.SuppressionReason.COMPLAINT, 0),
        unsubscribed=left.get(journal.SuppressionReason.UNSUBSCRIBED, 0),
        signups=journal.confirmed_signups_between(db, previous.created if previous else None, run.created),
        clicks=sum(journal.click_counts(db, run.slug).values()),
    )


def _history(db: journal.Db) -> list[IssueNumbers]:
    """Every real send, oldest first (a rehearsal into the outbox reached no reader)."""
    runs = [run for run in journal.list_runs(db) if not run.rehearsal]
    return [_numbers(db, run, runs[i - 1] if i else None, runs[i + 1] if i + 1 < len(runs) else None)
            for i, run in enumerate(runs)]


def _item_urls(config: Config, issue: Issue) -> list[tuple[int, set[str]]]:
    """Each item's URLs as the email links them: links, "See also", its archive anchor."""
    items = issue.items
    web = f"{config.archive_url.rstrip('/')}/{issue.range.slug}/" if config.archive_url else None
    found = []
    for index, (item, anchor) in enumerate(zip(items, item_anchors(items), strict=True)):
        urls = {link.url for link in item.links} | {s.url for s in item.see_also}
        if web:
            urls.add(f"{web}#{anchor}")
        found.append((index, urls))
    return found


def _clicks(config: Config, issue: Issue, counts: dict[str, int]) -> tuple[list[ItemClicks], list[ThemeClicks], int]:
    items = issue.items
    theme_of = {id(item): s.theme for s in issue.sections for item in s.items}
    per_item = [0] * len(items)
    claimed: set[str] = set()
    for index, urls in _item_urls(config, issue):
        for url in sorted(urls - claimed):  # a URL two items share counts for the first
            per_item[index] += counts.get(url, 0)
        claimed |= urls
    other = sum(n for url, n in counts.items() if url not in claimed)
    item_rows = [ItemClicks(item.title, theme_of[id(item)], n) for item, n in zip(items, per_item, strict=True)]
    total = sum(per_item)
    themes = []
    for section in issue.sections:
        clicks = sum(row.clicks for row in item_rows if row.theme == section.theme)
        themes.append(ThemeClicks(section.theme, len(section.items), clicks,
                                  clicks / total if total else 0.0, len(section.items) / len(items) if items else 0.0))
    return item_rows, themes, other


def issue_report(config: Config, db: journal.Db, date_range: DateRange) -> IssueReport:
    """The report for the issue of `date_range` (it must have been sent)."""
    slug = date_range.slug
    history = _history(db)
    numbers = next((n for n in history if n.slug == slug), None)
    if numbers is None:
        rehearsed = journal.get_run(db, slug, journal.RunKind.REHEARSAL) is not None
        raise NewsletterError(f"no send run for {slug}" + (" (only a rehearsal into the outbox)" if rehearsed else "")
                              + ": nothing to report yet", path=str(config.state),
                              hint="`newsletter status` lists the issues sent")
    issue = prepare_issue(config, date_range)
    items, themes, other = _clicks(config, issue, journal.click_counts(db, slug))
    return IssueReport(numbers, items, themes, other, history, config.count_clicks)

