"""Reading the parts of a message from the return mailbox, which anyone can write to.

Every helper here is bounded and never raises on what a sender can put in a message:
walks stop at `MAX_DEPTH` nesting levels and `MAX_PARTS` parts (a few thousand nested
parts would otherwise exhaust the stack); text is decoded with the declared charset only
when it is a real text codec (`charset="idna"` or `"undefined"` raise on decoding, and
ISO-2022-JP and Shift_JIS from Japanese carriers must decode), else as UTF-8 with
replacement characters; headers likewise.
"""

from __future__ import annotations

import codecs
import email.errors
import html
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message

__all__ = ["MAX_DEPTH", "MAX_PARTS", "children", "clean", "header", "plain_texts", "text", "walk_outside_returned"]

MAX_DEPTH = 12  # a real bounce nests 3 or 4 deep (report > returned message > alternative)
MAX_PARTS = 200
_NOT_TEXT_CODECS = {"idna", "undefined", "punycode", "rot-13", "rot13", "base64", "hex", "zlib", "bz2", "uu",
                    "quopri"}


def children(msg: Message) -> list[Message]:
    """The sub-messages of a multipart, message/* or delivery-status part; [] otherwise
    (a leaf's payload is never asked for as text here: that decodes with its charset)."""
    if not msg.is_multipart():
        return []
    payload = msg.get_payload()
    return [p for p in payload if isinstance(p, Message)][:MAX_PARTS] if isinstance(payload, list) else []


def walk_outside_returned(msg: Message, depth: int = 0) -> Iterator[Message]:
    """Every part of the bounce itself, not the inside of a returned original message."""
    yield msg
    if msg.get_content_type() == "message/rfc822" or depth >= MAX_DEPTH:
        return
    for child in children(msg):
        yield from walk_outside_returned(child, depth + 1)


def plain_texts(msg: Message, depth: int = 0) -> Iterator[str]:
    """The explanatory text parts (not those inside the report or the returned message);
    the HTML of an Office 365 report without a text part, as text."""
    if not msg.is_multipart():
        if msg.get_content_type() == "text/html":
            yield html_text(text(msg))
        elif msg.get_content_maintype() == "text" or msg.get_content_type() == "application/json":
            yield text(msg)
        return
    if depth >= MAX_DEPTH:
        return
    parts = children(msg)
    kinds = {p.get_content_type() for p in parts}
    for part in parts:
        kind = part.get_content_type()
        if kind == "text/plain" or (kind == "text/html" and "text/plain" not in kinds):
            yield from plain_texts(part, depth + 1)
        elif kind in ("multipart/alternative", "multipart/related", "multipart/mixed"):
            yield from plain_texts(part, depth + 1)


def html_text(markup: str) -> str:
    """Rough text of an HTML report: tags dropped, line breaks kept, entities decoded."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup[:500_000])
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d)>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]{0,2000}>", " ", markup))


def text(part: Message) -> str:
    """A text part's content as str, whatever charset it claims."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode(payload, _charset(part))


def decode(data: bytes, charset: str | None) -> str:
    """`data` in `charset` if that is a text codec Python knows; else UTF-8, replacing errors."""
    name = (charset or "utf-8").strip().lower()
    try:
        info = codecs.lookup(name)
        if info.name in _NOT_TEXT_CODECS or not getattr(info, "_is_text_encoding", True):
            raise LookupError(name)
        return data.decode(info.name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return data.decode("utf-8", errors="replace")


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except (LookupError, UnicodeError, ValueError):
        return None


def header(msg: Message, name: str) -> str:
    """A header decoded (RFC 2047), or as it stands when its encoding is bogus."""
    try:
        value = msg.get(name)
    except (LookupError, UnicodeError, ValueError, IndexError, email.errors.HeaderParseError):
        return ""
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return str(value)


def clean(value: str, limit: int = 300) -> str:
    """One line, spaces collapsed, at most `limit` characters (diagnostics go into reports)."""
    return " ".join(value[: limit * 20].split())[:limit]
