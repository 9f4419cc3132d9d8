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

from newsletter.issue.selection import Issue

__all__ = ["line_of", "message_headers", "message_subject", "parse_html", "text_of", "url_locations"]


def parse_html(html: str) -> Any:
    """The document as an lxml tree (elements know their `sourceline`)."""
    try:
        return lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


def url_locations(issue: Issue | None) -> Callable[[str, str], str]:
    """Map a URL found in the email back to the item file and line that put it there."""
    places: dict[str, str] = {}
    for item in issue.items if issue else ():
        urls = [link.url for link in item.links] + [s.url for s in item.see_also]
        if item.image:
            urls.append(item.image.src)
        for url in urls:
            places.setdefault(url.strip(), item.where)

    def locate(url: str, fallback: str) -> str:
        return places.get(url.strip(), fallback)

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
