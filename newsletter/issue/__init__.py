"""The issue stage: item files and a date range in, a built issue out.

Takes `items/*.yaml`, the `Config` and a `DateRange`; loads and checks the items,
selects and groups them by theme (`Issue`), renders and inlines the email once
(`RenderedIssue`), composes the sample message, runs the checks (`Finding`s) and writes
`issues/<slug>/` (`BuildResult`). `Variants` renders one email per theme selection;
`probe_links` asks the web whether the links answer.
"""

from __future__ import annotations

from newsletter.issue.build import BuildResult, build_issue
from newsletter.issue.checks import check_issue
from newsletter.issue.checks.findings import Finding
from newsletter.issue.items import Item, load_items
from newsletter.issue.probe import probe_links
from newsletter.issue.render import RenderedIssue, render_issue
from newsletter.issue.selection import Issue, Section, make_issue
from newsletter.issue.variants import Variants

__all__ = [
    "BuildResult",
    "Finding",
    "Issue",
    "Item",
    "RenderedIssue",
    "Section",
    "Variants",
    "build_issue",
    "check_issue",
    "load_items",
    "make_issue",
    "probe_links",
    "render_issue",
]
