"""The issue stage: item files and a date range in, a built issue out.

Takes `items/*.yaml`, the `Config` and a `DateRange`; loads and checks the items,
selects and groups them by theme (`Issue`), renders and inlines the email once
(`RenderedIssue`), composes the sample message, runs the checks (`Finding`s) and writes
`issues/<slug>/` (`BuildResult`). `Variants` renders one email per theme selection;
`probe_links` asks the web whether the links answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.issue.build import (
        BuildResult,
        build_issue,
        clipped_error,
        manifest_json,
        prepare_issue,
        render_files,
        result_of,
        write_issue,
    )
    from newsletter.issue.checks import check_issue
    from newsletter.issue.checks.document import parse_html, url_locations
    from newsletter.issue.checks.editorial import example_placeholders
    from newsletter.issue.checks.findings import Finding, count, error, ordered
    from newsletter.issue.checks.links import check_unsubscribe_route
    from newsletter.issue.compose import MAX_LINE_OCTETS, MessageTemplate, Recipient, clean_header_text, compile_message, fill
    from newsletter.issue.counted import counted_parts, counted_target, is_canary, is_counted
    from newsletter.issue.inline import inline_css
    from newsletter.issue.items import Image, Item, Link, load_items, parse_items
    from newsletter.issue.probe import LinkResult, fetch_links, link_findings, probe_links, web_links
    from newsletter.issue.render import (
        DEFAULT_TEMPLATES,
        GMAIL_CLIP_BYTES,
        RenderedIssue,
        item_anchors,
        slot,
        template_environment,
        wrap_text,
    )
    from newsletter.issue.selection import Issue
    from newsletter.issue.summary import summary_html, summary_text
    from newsletter.issue.variants import Key, PreviewVariants, Variants, preview_variant, theme_query
    from newsletter.issue.wire import sent_bytes

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "build_issue": "newsletter.issue.build",
    "BuildResult": "newsletter.issue.build",
    "check_issue": "newsletter.issue.checks",
    "check_unsubscribe_route": "newsletter.issue.checks.links",
    "clean_header_text": "newsletter.issue.compose",
    "clipped_error": "newsletter.issue.build",
    "compile_message": "newsletter.issue.compose",
    "count": "newsletter.issue.checks.findings",
    "counted_parts": "newsletter.issue.counted",
    "counted_target": "newsletter.issue.counted",
    "DEFAULT_TEMPLATES": "newsletter.issue.render",
    "error": "newsletter.issue.checks.findings",
    "example_placeholders": "newsletter.issue.checks.editorial",
    "fetch_links": "newsletter.issue.probe",
    "fill": "newsletter.issue.compose",
    "Finding": "newsletter.issue.checks.findings",
    "GMAIL_CLIP_BYTES": "newsletter.issue.render",
    "Image": "newsletter.issue.items",
    "inline_css": "newsletter.issue.inline",
    "is_canary": "newsletter.issue.counted",
    "is_counted": "newsletter.issue.counted",
    "Issue": "newsletter.issue.selection",
    "Item": "newsletter.issue.items",
    "item_anchors": "newsletter.issue.render",
    "Key": "newsletter.issue.variants",
    "Link": "newsletter.issue.items",
    "link_findings": "newsletter.issue.probe",
    "LinkResult": "newsletter.issue.probe",
    "load_items": "newsletter.issue.items",
    "manifest_json": "newsletter.issue.build",
    "MAX_LINE_OCTETS": "newsletter.issue.compose",
    "MessageTemplate": "newsletter.issue.compose",
    "ordered": "newsletter.issue.checks.findings",
    "parse_html": "newsletter.issue.checks.document",
    "parse_items": "newsletter.issue.items",
    "prepare_issue": "newsletter.issue.build",
    "preview_variant": "newsletter.issue.variants",
    "PreviewVariants": "newsletter.issue.variants",
    "probe_links": "newsletter.issue.probe",
    "Recipient": "newsletter.issue.compose",
    "render_files": "newsletter.issue.build",
    "RenderedIssue": "newsletter.issue.render",
    "result_of": "newsletter.issue.build",
    "sent_bytes": "newsletter.issue.wire",
    "slot": "newsletter.issue.render",
    "summary_html": "newsletter.issue.summary",
    "summary_text": "newsletter.issue.summary",
    "template_environment": "newsletter.issue.render",
    "theme_query": "newsletter.issue.variants",
    "url_locations": "newsletter.issue.checks.document",
    "Variants": "newsletter.issue.variants",
    "web_links": "newsletter.issue.probe",
    "wrap_text": "newsletter.issue.render",
    "write_issue": "newsletter.issue.build",
}

__all__ = [
    "build_issue",
    "BuildResult",
    "check_issue",
    "check_unsubscribe_route",
    "clean_header_text",
    "clipped_error",
    "compile_message",
    "count",
    "counted_parts",
    "counted_target",
    "DEFAULT_TEMPLATES",
    "error",
    "example_placeholders",
    "fetch_links",
    "fill",
    "Finding",
    "GMAIL_CLIP_BYTES",
    "Image",
    "inline_css",
    "is_canary",
    "is_counted",
    "Issue",
    "Item",
    "item_anchors",
    "Key",
    "Link",
    "link_findings",
    "LinkResult",
    "load_items",
    "manifest_json",
    "MAX_LINE_OCTETS",
    "MessageTemplate",
    "ordered",
    "parse_html",
    "parse_items",
    "prepare_issue",
    "preview_variant",
    "PreviewVariants",
    "probe_links",
    "Recipient",
    "render_files",
    "RenderedIssue",
    "result_of",
    "sent_bytes",
    "slot",
    "summary_html",
    "summary_text",
    "template_environment",
    "theme_query",
    "url_locations",
    "Variants",
    "web_links",
    "wrap_text",
    "write_issue",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
