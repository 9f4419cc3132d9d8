"""The preview's Report tab: `newsletter report` for the previewed month, with charts.

The figures are `send.issue_report`'s, the same as the command prints; this module only
turns them into the page's context: tables, and charts drawn as inline SVG (charts.py).
Small counts stay hidden here too ("fewer than 5"), in the bars as in the tables.
"""

from __future__ import annotations

import contextlib
from typing import Any

from newsletter import journal
from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.errors import NewsletterError
from newsletter.preview.charts import Bar, bar_chart, line_chart
from newsletter.send import IssueReport, issue_report, shown

__all__ = ["report_context"]


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _visible(count: int) -> int:
    """What a bar may show: a count of 1-4 draws no length (its label says "fewer than 5")."""
    return count if count == 0 or shown(count) == str(count) else 0


def _charts(found: IssueReport) -> dict[str, Any]:
    themes = found.themes
    top_share = max([t.click_share for t in themes] + [t.issue_share for t in themes] + [0.01])
    theme_chart = bar_chart(
        "Clicks per theme: share of the clicks against share of the issue",
        [Bar(t.theme, t.click_share / top_share if _visible(t.clicks) else 0.0,
             f"{_percent(t.click_share)} of clicks ({shown(t.clicks)})" if _visible(t.clicks) else shown(t.clicks),
             t.issue_share / top_share, f"{_percent(t.issue_share)} of items ({t.items})") for t in themes],
        legend=("share of the clicks", "share of the issue"),
    )
    top_item = max([_visible(i.clicks) for i in found.items] + [1])
    item_chart = bar_chart("Clicks per item", [Bar(i.title, _visible(i.clicks) / top_item, shown(i.clicks))
                                              for i in found.items])
    size_chart = line_chart("The list's size, issue by issue", [(h.slug, h.list_size) for h in found.history])
    return {"theme_chart": theme_chart, "item_chart": item_chart, "size_chart": size_chart}


def report_context(config: Config | None, date_range: DateRange) -> dict[str, Any]:
    """The Report tab's context: the report and its charts, or why there is none yet."""
    if config is None:
        return {"report_problem": "fix the config first"}
    unsent = {"report_problem": f"{date_range.label} has not been sent yet: nothing to report. "
                                "`newsletter send` records what the report counts."}
    if not journal.exists(config.state):
        return unsent
    try:
        with contextlib.closing(journal.connect(config.state)) as db:
            if journal.get_run(db, date_range.slug) is None:
                return unsent
            found = issue_report(config, db, date_range)
    except NewsletterError as exc:
        return {"report_problem": str(exc)}
    history = [{"slug": h.slug, "list_size": h.list_size, "delivered": h.delivered,
                "bounced": _percent(h.rate(h.bounced)), "unsubscribed": _percent(h.rate(h.unsubscribed)),
                "signups": h.signups, "clicks": shown(h.clicks)} for h in found.history]
    return {"found": found, "shown": shown, "percent": _percent, "history_rows": history,
            **(_charts(found) if found.tracking or found.numbers.clicks else {})}
