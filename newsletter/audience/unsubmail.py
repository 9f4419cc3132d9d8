"""Mail to the `unsubscribe.mailto` address: who asks to be taken off the list.

Every message advertises `List-Unsubscribe: <mailto:unsubscribe@example.org?subject=unsubscribe>`
(RFC 2369); mail clients send that when a reader presses their "Unsubscribe" button. A
message delivered to the mailto address asks to unsubscribe when:

- it carries an unsubscribe token of ours (as in the https link) in the subject or the
  first lines of the body: the token's address, whoever sent it (a forwarded mailbox); or
- its subject, or one of the first lines of the body above any quoted text, says
  "unsubscribe" (or "remove me", "stop"): the From address, if we ever mailed it
  (`bounces.py` checks that).

Quoted text (lines starting with `>`, and everything after "-----Original Message-----"
or "On ... wrote:") is never read: a reply that quotes our footer's "Unsubscribe" link
asks nothing.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses, parseaddr

from newsletter.audience.mimeparts import header, plain_texts
from newsletter.tokens import read_token

__all__ = ["unsubscribe_request"]

_WORDS_RE = re.compile(r"^\W*(unsubscribe|remove me|stop|opt[ -]?out|d[ée]sinscri|abmelden)\b", re.IGNORECASE)
_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z0-9_-]{2,600}\.[A-Za-z0-9_-]{22})(?![A-Za-z0-9_-])")
_QUOTE_START = re.compile(r"^\s*(-{3,}\s*Original Message|On .{0,200} wrote:|From: )", re.IGNORECASE)
_FIRST_LINES = 8


def unsubscribe_request(msg: Message, *, mailto: str, list_id: str, keys: list[bytes]) -> tuple[str, str] | None:
    """(address, "token" or "from") if `msg` is a request to `mailto` to unsubscribe; else None."""
    if not mailto or not _addressed_to(msg, mailto.lower()):
        return None
    subject = header(msg, "Subject")[:1000]
    lines = _own_lines(msg)
    for text in [subject, *lines]:
        for candidate in _TOKEN_RE.findall(text):
            address = read_token(candidate, list_id, keys)
            if address:
                return address, "token"
    if _WORDS_RE.search(subject) or any(_WORDS_RE.search(line) for line in lines):
        sender = parseaddr(header(msg, "From"))[1].strip().lower()
        if "@" in sender:
            return sender, "from"
    return None


def _addressed_to(msg: Message, mailto: str) -> bool:
    names = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
    return any(addr.lower() == mailto for name in names for _, addr in getaddresses(msg.get_all(name, [])))


def _own_lines(msg: Message) -> list[str]:
    """The first non-empty lines the sender wrote, above any quoted text."""
    body = next(iter(plain_texts(msg)), "")[:20_000]
    lines = []
    for line in body.splitlines():
        if _QUOTE_START.match(line) or line.lstrip().startswith(">"):
            break
        if line.strip():
            lines.append(line.strip()[:1000])
        if len(lines) >= _FIRST_LINES:
            break
    return lines
