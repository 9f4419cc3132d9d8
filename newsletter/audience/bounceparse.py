"""What a bounce message says: which addresses failed, how, and which message it returns.

Two shapes of bounce are understood:

- RFC 3464 delivery status notifications (`multipart/report; report-type=delivery-status`,
  what Postfix, Gmail, Microsoft and modern Exim send): per recipient an `Action`,
  `Status` (enhanced code such as 5.1.1) and `Diagnostic-Code`, plus the original
  message or its headers;
- plain-text bounces (classic Exim, qmail, old Postfix, hosted services): the status
  code is found in the explanation, the original headers in the quoted copy.

Delay warnings (`Action: delayed`) and auto-replies are not bounces. Pure functions
over `email.message.Message`: no journal, no mailbox, so every sender's quirks can be
tested from a sample file; `bounces.py` matches the result to runs and suppresses.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

__all__ = ["FailedAddress", "ParsedBounce", "parse_bounce"]

_STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE_RE = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)", re.MULTILINE)
_ADDRESS_RE = re.compile(r"<?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)>?")
_MESSAGE_ID_RE = re.compile(r"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_COPY_MARKER = re.compile(
    r"^[ \t]*-{2,}[ \t]*(This is a copy of|Below this line is a copy|Original message|"
    r"Undelivered message|The header of the original message|Returned message|"
    r"Original message headers)|^[ \t]*(Original message follows|The original message was received)",
    re.IGNORECASE | re.MULTILINE,
)
_DAEMON_RE = re.compile(r"mailer-daemon|postmaster|mail delivery (subsystem|system)|mail administrator", re.IGNORECASE)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|delivery (status notification|failure|has failed|incomplete)|mail delivery failed|"
    r"returned mail|failure notice|delivery problem|could not be delivered|non-?delivery|"
    r"message not delivered|mail system error",
    re.IGNORECASE,
)
_DELAY_RE = re.compile(r"\b(delayed|has not yet been delivered|still trying|will keep trying|"
                       r"delivery status notification \(delay\))", re.IGNORECASE)
_PERMANENT_RE = re.compile(r"permanent (error|failure)|I'm not going to try again|I've given up|"
                           r"user unknown|no such (user|mailbox)|does not exist|address rejected", re.IGNORECASE)
_TEMPORARY_RE = re.compile(r"temporary (error|failure)|mailbox (is )?full|over quota|try again later", re.IGNORECASE)
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True)
class FailedAddress:
    """One recipient's failure as a bounce message reports it, before matching."""

    recipient: str  # the failed address as the bounce names it ("" if it names none)
    status: str  # enhanced status code: 5.1.1 (hard) or 4.2.2 (soft)
    diagnostic: str

    @property
    def kind(self) -> str:
        return "hard" if self.status.startswith("5") else "soft"


@dataclass(frozen=True)
class ParsedBounce:
    """What one message says: its failures, the original Message-IDs, where it was sent."""

    failures: tuple[FailedAddress, ...]
    original_ids: tuple[str, ...]
    envelope_to: tuple[str, ...]  # candidate VERP addresses the bounce was delivered to
    delayed: bool = False  # only delay warnings: not a bounce yet


def _children(msg: Message) -> list[Message]:
    """The sub-messages of a multipart, message/* or delivery-status part; [] otherwise."""
    payload = msg.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return str(value)


def _clean(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _status_from(text: str) -> str | None:
    """The enhanced status code in `text`, else one made from a basic SMTP code (550 -> 5.0.0)."""
    match = _STATUS_RE.search(text)
    if match and match.group(1) in "45":
        return ".".join(match.groups())
    code = _SMTP_CODE_RE.search(text)
    return f"{code.group(1)[0]}.0.0" if code else None


def _address_of(field_value: str) -> str:
    """`rfc822; alice@example.org` -> `alice@example.org`."""
    value = field_value.partition(";")[2] if ";" in field_value else field_value
    return parseaddr(value.strip())[1].lower() or value.strip().strip("<>").lower()


def _dsn_failures(report: Message) -> tuple[list[FailedAddress], bool]:
    """Failures from a message/delivery-status part; also whether it only reports delays."""
    failures: list[FailedAddress] = []
    delayed = False
    for block in _children(report)[1:]:
        action = str(block.get("Action", "")).strip().lower()
        code = str(block.get("Diagnostic-Code", ""))
        diagnostic = _clean(code.partition(";")[2] if ";" in code else code)
        status = _status_from(str(block.get("Status", ""))) or _status_from(diagnostic)
        if action == "delayed":
            delayed = True
            continue
        if action != "failed" or not status:
            continue  # delivered, relayed, expanded: not a failure
        # Original-Recipient is the address as we sent it; Final-Recipient may be a forward
        named = block.get("Original-Recipient") or block.get("Final-Recipient") or ""
        failures.append(FailedAddress(_address_of(str(named)), status, diagnostic))
    return failures, delayed and not failures


def _original_ids(parts: list[Message], texts: list[str]) -> list[str]:
    """Message-IDs of the returned original: attached message, its headers, or a quoted copy."""
    ids: list[str] = []
    for part in parts:
        kind = part.get_content_type()
        if kind == "message/rfc822":
            for msg in _children(part):
                if msg.get("Message-ID"):
                    ids.append(str(msg["Message-ID"]).strip())
        elif kind in ("text/rfc822-headers", "text/rfc822-header"):
            ids += _MESSAGE_ID_RE.findall(_text(part))
        elif kind == "message/delivery-status":
            blocks = _children(part)
            if blocks and blocks[0].get("X-Original-Message-ID"):
                ids.append(str(blocks[0]["X-Original-Message-ID"]))  # Gmail names it here too
    for text in texts:
        marker = _COPY_MARKER.search(text)
        ids += _MESSAGE_ID_RE.findall(text[marker.start():] if marker else text)
    return list(dict.fromkeys(i.strip() for i in ids))


def _text_failures(text: str, extra: list[str]) -> list[FailedAddress]:
    """Failures from a plain-text explanation: each named address with the code after it."""
    marker = _COPY_MARKER.search(text)
    explanation = text[: marker.start()] if marker else text
    status = _status_from(explanation)
    if status is None:
        if _PERMANENT_RE.search(explanation):
            status = "5.0.0"
        elif _TEMPORARY_RE.search(explanation):
            status = "4.0.0"
        else:
            return []
    line = next((ln for ln in explanation.splitlines() if status in ln or _SMTP_CODE_RE.search(ln)), "")
    addresses = list(dict.fromkeys([a.lower() for a in extra] + [m.group(1).lower() for m in
                                                                 _ADDRESS_RE.finditer(explanation)]))
    if not addresses:
        return [FailedAddress("", status, _clean(line))]
    failures = []
    for address in addresses:
        window = explanation[explanation.lower().find(address):][:600]
        own = _status_from(window[len(address):]) or status
        failures.append(FailedAddress(address, own, _clean(line)))
    return failures


def _looks_like_bounce(msg: Message) -> bool:
    sender = _header(msg, "From")
    return bool(_DAEMON_RE.search(sender) or _BOUNCE_SUBJECT_RE.search(_header(msg, "Subject"))
                or msg.get("X-Failed-Recipients"))


def parse_bounce(msg: Message) -> ParsedBounce | None:
    """What a message reports, or None if it is not a bounce (an auto-reply, a person)."""
    envelope = tuple(dict.fromkeys(
        addr for name in _RECIPIENT_HEADERS for _, addr in getaddresses(msg.get_all(name, [])) if addr))
    parts = _children(msg) if msg.is_multipart() else [msg]
    is_report = msg.get_content_type() == "multipart/report"
    texts = [_text(p) for p in _plain_parts(msg)]
    failures: list[FailedAddress] = []
    delayed = False
    for part in parts:
        if part.get_content_type() == "message/delivery-status":
            found, only_delays = _dsn_failures(part)
            failures += found
            delayed = delayed or only_delays
    if not failures and not delayed:
        if not (is_report or _looks_like_bounce(msg)):
            return None
        subject = _header(msg, "Subject")
        if _DELAY_RE.search(subject) or (texts and _DELAY_RE.search(texts[0][:800]) and not _PERMANENT_RE.search(texts[0][:800])):
            delayed = True
        else:
            extra = [a for _, a in getaddresses(msg.get_all("X-Failed-Recipients", [])) if a]
            for text in texts[:1]:
                failures += _text_failures(text, extra)
            if not failures:
                return None
    return ParsedBounce(tuple(failures), tuple(_original_ids(parts, texts)), envelope, delayed and not failures)


def _plain_parts(msg: Message) -> Iterator[Message]:
    """The explanatory text parts (not those inside the report or the returned message)."""
    if not msg.is_multipart():
        if msg.get_content_maintype() == "text":
            yield msg
        return
    for part in _children(msg):
        kind = part.get_content_type()
        if kind == "text/plain":
            yield part
        elif kind == "multipart/alternative":
            yield from (p for p in _children(part) if p.get_content_type() == "text/plain")
