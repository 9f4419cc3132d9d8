"""Lint rules over a built issue: what would embarrass the sender once it has gone out.

Data in, data out: the rules read the rendered files (`email.html`, `email.txt`,
`sample.eml`), the `Issue` and the `Config`, and return `Finding`s; nothing here prints,
writes or touches the network (link checking lives in `issue/probe.py`). An *error* is
something a subscriber or a mail provider would notice (a clipped message, a missing
unsubscribe header, an unreadable colour, a link that cannot work); a *warning* is worth
a look but may be intended. `build` records the findings in manifest.json, `check`
prints them, and `send` refuses to start while there are errors unless `--force`.

The rules live by what they look at:

- `message.py`: the message as servers handle it (HTML size, line lengths, headers);
- `html.py`: the HTML as a reader meets it (lang, layout tables, images, contrast);
- `links.py`: links in both parts (well-formed, https, text/HTML parity, unsubscribe);
- `content.py`: what the reader reads (subject, preheader, sections and items);
- `document.py` parses the built files and traces a URL back to its item file;
- `findings.py` holds `Finding`.

`check_issue` here runs them all in one fixed order.
"""

from __future__ import annotations

from collections.abc import Mapping

from newsletter.config import Config, contrast_ratio
from newsletter.issue.checks.content import check_identity, check_items, check_preheader, check_subject
from newsletter.issue.checks.document import message_subject, parse_html, url_locations
from newsletter.issue.checks.findings import Finding, Severity, count, ordered
from newsletter.issue.checks.html import (
    check_contrast,
    check_images,
    check_lang,
    check_mso,
    check_tables,
)
from newsletter.issue.checks.links import check_links, check_parity, check_unsubscribe, check_unsubscribe_route
from newsletter.issue.checks.message import (
    check_excerpt,
    check_headers,
    check_line_lengths,
    check_size,
)
from newsletter.issue.render import RenderedIssue
from newsletter.issue.wire import quoted_printable

__all__ = [
    "Finding",
    "Severity",
    "check_contrast",
    "check_headers",
    "check_identity",
    "check_images",
    "check_issue",
    "check_items",
    "check_lang",
    "check_line_lengths",
    "check_links",
    "check_mso",
    "check_parity",
    "check_preheader",
    "check_size",
    "check_subject",
    "check_tables",
    "check_unsubscribe",
    "contrast_ratio",
    "count",
    "ordered",
    "parse_html",
    "url_locations",
]


def check_issue(rendered: RenderedIssue, files: Mapping[str, bytes], config: Config) -> list[Finding]:
    """Every rule over one built issue, errors first; `files` holds email.html, email.txt and sample.eml."""
    html_bytes = files["email.html"]
    html = html_bytes.decode("utf-8", "replace")
    text = files["email.txt"].decode("utf-8", "replace")
    message = files["sample.eml"]
    doc = parse_html(html)
    locate = url_locations(rendered.issue)
    sent = len(quoted_printable(html).encode("ascii"))  # the HTML part as compose encodes it
    web_url = config.issue_url(rendered.issue.range.slug) or ""
    return ordered([
        *check_size(sent),
        *check_excerpt(rendered.excerpt_of, web_url),
        *check_line_lengths({name: files[name] for name in ("email.html", "email.txt", "sample.eml")}),
        *check_lang(doc),
        *check_tables(doc),
        *check_mso(html),
        *check_items(rendered.issue),
        *check_images(doc, locate),
        *check_links(doc, locate),
        *check_subject(message_subject(message) or rendered.subject),
        *check_preheader(doc),
        *check_parity(doc, text, config, locate),
        *check_unsubscribe(doc, text, config),
        *check_unsubscribe_route(doc, text, message, config),
        *check_headers(message),
        *check_contrast(config.colors, where=config.path.name),
        *check_identity(config),
    ])
