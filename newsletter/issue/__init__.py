"""The issue stage: item files and a date range in, a built issue out.

Takes `items/*.yaml`, the `Config` and a `DateRange`; loads and checks the items,
selects and groups them by theme (`Issue`), renders and inlines the email once
(`RenderedIssue`), composes the sample message, runs the checks (`Finding`s) and writes
`issues/<slug>/` (`BuildResult`). `Variants` renders one email per theme selection;
`probe_links` asks the web whether the links answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.faces import load

if TYPE_CHECKING:
    from newsletter.issue.build import BuildResult, build_issue, clipped_error
    from newsletter.issue.checks import check_issue
    from newsletter.issue.checks.document import parse_html, url_locations
    from newsletter.issue.checks.findings import Finding, count, ordered
    from newsletter.issue.checks.links import check_unsubscribe_route
    from newsletter.issue.compose import MAX_LINE_OCTETS, MessageTemplate, Recipient, compile_message, fill
    from newsletter.issue.items import Image, Item, Link, load_items, parse_items
    from newsletter.issue.probe import LinkResult, fetch_links, link_findings, probe_links, web_links
    from newsletter.issue.render import DEFAULT_TEMPLATES, GMAIL_CLIP_BYTES, RenderedIssue, template_environment
    from newsletter.issue.summary import summary_html, summary_text
    from newsletter.issue.variantchecks import build_checked
    from newsletter.issue.variants import QUIET_REASON, PreviewVariants, Variants, theme_query

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "build_checked": "newsletter.issue.variantchecks",
    "build_issue": "newsletter.issue.build",
    "BuildResult": "newsletter.issue.build",
    "check_issue": "newsletter.issue.checks",
    "check_unsubscribe_route": "newsletter.issue.checks.links",
    "clipped_error": "newsletter.issue.build",
    "compile_message": "newsletter.issue.compose",
    "count": "newsletter.issue.checks.findings",
    "DEFAULT_TEMPLATES": "newsletter.issue.render",
    "fetch_links": "newsletter.issue.probe",
    "fill": "newsletter.issue.compose",
    "Finding": "newsletter.issue.checks.findings",
    "GMAIL_CLIP_BYTES": "newsletter.issue.render",
    "Image": "newsletter.issue.items",
    "Item": "newsletter.issue.items",
    "Link": "newsletter.issue.items",
    "link_findings": "newsletter.issue.probe",
    "LinkResult": "newsletter.issue.probe",
    "load_items": "newsletter.issue.items",
    "MAX_LINE_OCTETS": "newsletter.issue.compose",
    "MessageTemplate": "newsletter.issue.compose",
    "ordered": "newsletter.issue.checks.findings",
    "parse_html": "newsletter.issue.checks.document",
    "parse_items": "newsletter.issue.items",
    "PreviewVariants": "newsletter.issue.variants",
    "probe_links": "newsletter.issue.probe",
    "QUIET_REASON": "newsletter.issue.variants",
    "Recipient": "newsletter.issue.compose",
    "RenderedIssue": "newsletter.issue.render",
    "summary_html": "newsletter.issue.summary",
    "summary_text": "newsletter.issue.summary",
    "template_environment": "newsletter.issue.render",
    "theme_query": "newsletter.issue.variants",
    "url_locations": "newsletter.issue.checks.document",
    "Variants": "newsletter.issue.variants",
    "web_links": "newsletter.issue.probe",
}

__all__ = [
    "build_checked",
    "build_issue",
    "BuildResult",
    "check_issue",
    "check_unsubscribe_route",
    "clipped_error",
    "compile_message",
    "count",
    "DEFAULT_TEMPLATES",
    "fetch_links",
    "fill",
    "Finding",
    "GMAIL_CLIP_BYTES",
    "Image",
    "Item",
    "Link",
    "link_findings",
    "LinkResult",
    "load_items",
    "MAX_LINE_OCTETS",
    "MessageTemplate",
    "ordered",
    "parse_html",
    "parse_items",
    "PreviewVariants",
    "probe_links",
    "QUIET_REASON",
    "Recipient",
    "RenderedIssue",
    "summary_html",
    "summary_text",
    "template_environment",
    "theme_query",
    "url_locations",
    "Variants",
    "web_links",
]


def __getattr__(name: str) -> object:
    return load(__name__, _EXPORTS, name)
