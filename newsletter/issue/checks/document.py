"""The built files as the rules read them, and where a finding points.

The HTML becomes an lxml tree whose elements know their source line; the sample
message's headers are parsed without decoding its body; a URL found in the email is
traced back to the item file and line that put it there, so a finding names the file
the user has to edit rather than the generated HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import lxml.html
from lxml.etree import ParserError

from newsletter.issue.items import Item
from newsletter.issue.selection import Issue

__all__ = ["line_of", "message_headers", "message_subject", "parse_html", "text_of", "url_locations"]


def parse_html(html: str) -> Any:
    """The document as an lxml tree (elements know their `sourceline`)."""
    try:
        return lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


def url_locations(issue: Issue | None) -> Callable[..., str]:
    """Map a URL found in the email back to the item file and the line of the value that put
    it there: the `url:` of a link, the `src:` of an image (or its `alt:` with `field="alt"`)."""
    places: dict[str, tuple[Item, str]] = {}
    for item in issue.items if issue else ():
        fields = [(link.url, f"links[{i}].url") for i, link in enumerate(item.links, 1)]
        fields += [(s.url, f"see_also[{i}].url") for i, s in enumerate(item.see_also, 1)]
        if item.image:
            fields.append((item.image.src, "image.src"))
        for url, name in fields:
            places.setdefault(url.strip(), (item, name))

    def locate(url: str, fallback: str, field: str = "url") -> str:
        found = places.get(url.strip())
        if found is None:
            return fallback
        item, name = found
        if field == "alt" and name == "image.src" and "image.alt" in item.lines:
            name = "image.alt"
        return item.where_of(name)

    return locate


def line_of(element: Any, name: str = "email.html") -> str:
    """`email.html:LINE` for an element, or just the file name when lxml has no line."""
    line = getattr(element, "sourceline", None)
    return f"{name}:{line}" if line else name


def text_of(element: Any) -> str:
    """What a link reads as: its text, or for an image link the images' alt text."""
    text = " ".join(element.text_content().split())
    if not text:  # an image link reads as its alt text
        text = " ".join(" ".join(img.get("alt", "") for img in element.iter("img")).split())
    return text


def message_headers(message: bytes) -> Any:
    """The sample message's headers as sent (compat32: no folding or decoding on read)."""
    return BytesHeaderParser(policy=compat32).parsebytes(message)


def message_subject(message: bytes) -> str:
    """The decoded Subject of the sample message, "" if it has none."""
    raw = message_headers(message).get("Subject")
    if raw is None:
        return ""
    try:
        return str(make_header(decode_header(str(raw))))
    except (UnicodeError, LookupError, ValueError):
        return str(raw)
