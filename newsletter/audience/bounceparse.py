"""What a bounce message says: which addresses failed, how, and which message it returns.

Which addresses failed, and whether for good, comes from `flufl.bounce` (Mailman's
detectors for Postfix, Exim, qmail, Sendmail, Exchange, GroupWise, Yahoo, AOL, SMTP32 and
the DSN dialects): its permanent/temporary split is the hard/soft split. What we read
better ourselves is added on top: the RFC 3464 per-recipient `Status` and
`Diagnostic-Code` (an enhanced code refines hard/soft: a "failed" 4.2.2 mailbox-full is a
soft bounce), the original Message-ID, the addresses the bounce was delivered to (for
VERP), and whether it came from a mail system at all (null sender, MAILER-DAEMON,
postmaster). Delay warnings are reported but are not bounces; auto-replies and
out-of-office messages are not bounces at all.

Pure functions over `email.message.Message`: no journal, no mailbox, so each server's
quirks can be tested from a sample file. `bounces.py` matches the result to what `send`
sent and decides whom to suppress.
"""

from __future__ import annotations

import email.errors
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from newsletter.addresses import address_key

__all__ = ["FailedAddress", "ParsedBounce", "parse_bounce"]

# flufl.bounce logs a detector's crash with a traceback before re-raising; we handle it below
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False

_STATUS_RE = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE_RE = re.compile(r"(?<![\d.])([45][0-5]\d)(?:[ -]|$)", re.MULTILINE)
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_VALID_ADDRESS_RE = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$")
_MESSAGE_ID_RE = re.compile(r"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_COPY_MARKER = re.compile(
    r"^[ \t]*-{2,}[ \t]*(This is a copy of|Below this line is a copy|Original message|"
    r"Undelivered message|The header of the original message|Returned message|"
    r"Original message headers)|^[ \t]*(Original message follows|The original message was received)",
    re.IGNORECASE | re.MULTILINE,
)
_DAEMON_LOCAL_PARTS = {"mailer-daemon", "postmaster", "mailerdaemon", "mail-daemon"}
_AUTO_REPLY_SUBJECT_RE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|absence|"
    r"away from|on vacation|vacation reply|r[ée]ponse automatique|risposta automatica)",
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply")
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


@dataclass(frozen=True)
class FailedAddress:
    """One recipient's failure as a bounce message reports it, before matching."""

    recipient: str  # the failed address, lower-case
    status: str  # enhanced status code: 5.1.1 (hard), 4.2.2 (soft); x.0.0 when the bounce gives none
    diagnostic: str
    kind: str = "hard"  # hard | soft
    delayed: bool = False  # a delay warning: the server is still trying, not a bounce yet


@dataclass(frozen=True)
class ParsedBounce:
    """What one message says: its failures, the original Message-IDs, where it was sent."""

    failures: tuple[FailedAddress, ...]
    original_ids: tuple[str, ...]
    envelope_to: tuple[str, ...]  # the addresses it was delivered to: VERP return paths
    from_mail_system: bool  # null sender, MAILER-DAEMON or postmaster: a plain-text bounce may count
    is_report: bool  # an RFC 3464 delivery status notification

    @property
    def delayed(self) -> bool:
        """Only delay warnings: nothing to record yet."""
        return all(f.delayed for f in self.failures)

    @property
    def final(self) -> tuple[FailedAddress, ...]:
        """The failures the server has given up on (hard or soft), without the delay warnings."""
        return tuple(f for f in self.failures if not f.delayed)


@dataclass(frozen=True)
class _DsnRecord:
    address: str
    action: str
    status: str | None
    diagnostic: str


def parse_bounce(msg: Message) -> ParsedBounce | None:
    """What a message reports, or None if it is not a bounce (an auto-reply, a person's mail)."""
    records = _dsn_records(msg)
    is_report = bool(records) or msg.get_content_type() == "multipart/report"
    if not is_report and _is_auto_reply(msg):
        return None
    temporary, permanent = _library_failures(msg)
    explanation = _explanation(msg)
    failed = {r.address: r for r in records if r.action.startswith("fail")}
    failures = [_failure(a, failed.get(a), explanation) for a in sorted(permanent | set(failed))]
    warned = {r.address: r for r in records if r.action == "delayed"}
    for address in sorted((temporary | set(warned)) - permanent - set(failed)):
        record = warned.get(address)
        status = (record.status if record else None) or "4.0.0"
        diagnostic = record.diagnostic if record else _line_about(explanation, address)
        failures.append(FailedAddress(address, status, diagnostic, "soft", delayed=True))
    if not failures:
        return None
    return ParsedBounce(tuple(failures), tuple(_original_ids(msg)), _envelope_to(msg),
                        _from_mail_system(msg), is_report)


def _failure(address: str, record: _DsnRecord | None, explanation: str) -> FailedAddress:
    """Hard by the library's verdict, refined by an enhanced status code where there is one."""
    if record is not None and record.status:
        status, diagnostic = record.status, record.diagnostic
    else:
        diagnostic = record.diagnostic if record else _line_about(explanation, address)
        status = _enhanced(diagnostic) or "5.0.0"
    return FailedAddress(address, status, diagnostic, "soft" if status.startswith("4") else "hard")


def _library_failures(msg: Message) -> tuple[set[str], set[str]]:
    """(temporary, permanent) addresses by Mailman's detectors, lower-cased, valid ones only.

    A mailbox holds whatever the internet sent, and a detector can fail on a malformed
    message (flufl.bounce 6.0's Yale detector raises IndexError on a message without a
    From header). One such message must not stop the import: the library then reports
    nothing for it and our own reading of the DSN, if any, stands alone.
    """
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 - any detector bug on hostile input; see the docstring
        return set(), set()
    return _addresses(temporary), _addresses(permanent)


def _addresses(found: frozenset[bytes] | set[bytes]) -> set[str]:
    """The detectors return bytes and sometimes a fragment (`david...@gmail.com`): drop those."""
    out = set()
    for raw in found:
        address = address_key(raw.decode("ascii", errors="replace").strip().strip("<>"))
        if _VALID_ADDRESS_RE.match(address):
            out.add(address)
    return out


def _dsn_records(msg: Message) -> list[_DsnRecord]:
    """The per-recipient blocks of every message/delivery-status part (not of a returned copy)."""
    records = []
    for part in _walk_outside_returned(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _children(part)[1:]:
            named = block.get("Original-Recipient") or block.get("Final-Recipient") or ""
            address = _address_of(str(named))
            if not _VALID_ADDRESS_RE.match(address):
                continue
            code = str(block.get("Diagnostic-Code", ""))
            diagnostic = _clean(code.partition(";")[2] if ";" in code else code)
            status = _enhanced(str(block.get("Status", ""))) or _enhanced(diagnostic)
            if status is None:
                basic = _SMTP_CODE_RE.search(diagnostic)
                status = f"{basic.group(1)[0]}.0.0" if basic else None
            records.append(_DsnRecord(address, str(block.get("Action", "")).strip().lower(), status, diagnostic))
    return records


def _walk_outside_returned(msg: Message) -> Iterator[Message]:
    """Every part of the bounce itself, but not the inside of a returned original message."""
    yield msg
    if msg.get_content_type() == "message/rfc822":
        return
    for child in _children(msg):
        yield from _walk_outside_returned(child)


def _original_ids(msg: Message) -> list[str]:
    """Message-IDs of the returned original: attached message, its headers, or a quoted copy."""
    ids: list[str] = []
    for part in _walk_outside_returned(msg):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            ids += [str(m["Message-ID"]) for m in _children(part) if m.get("Message-ID")]
        elif kind in ("text/rfc822-headers", "text/rfc822-header"):
            ids += _MESSAGE_ID_RE.findall(_text(part))
        elif kind == "message/delivery-status":
            blocks = _children(part)
            if blocks and blocks[0].get("X-Original-Message-ID"):
                ids.append(str(blocks[0]["X-Original-Message-ID"]))  # Gmail names it here too
    for text in _plain_texts(msg):
        marker = _COPY_MARKER.search(text)
        ids += _MESSAGE_ID_RE.findall(text[marker.start():] if marker else text)
    return list(dict.fromkeys(i.strip() for i in ids))


def _envelope_to(msg: Message) -> tuple[str, ...]:
    return tuple(dict.fromkeys(
        address_key(addr) for name in _RECIPIENT_HEADERS for _, addr in getaddresses(msg.get_all(name, [])) if addr))


def _from_mail_system(msg: Message) -> bool:
    """Sent by a mail system: a null envelope sender, or From/Sender MAILER-DAEMON or postmaster."""
    if any(str(v).strip() in ("<>", "") for v in msg.get_all("Return-Path", [])):
        return True
    for name in ("From", "Sender"):
        for _, addr in getaddresses(msg.get_all(name, [])):
            if addr.rpartition("@")[0].lower() in _DAEMON_LOCAL_PARTS:
                return True
    return False


def _is_auto_reply(msg: Message) -> bool:
    """An out-of-office or other automatic answer from a person's mailbox, not a mail system."""
    if _from_mail_system(msg) and not _AUTO_REPLY_SUBJECT_RE.search(_header(msg, "Subject")):
        return False
    if _AUTO_REPLY_SUBJECT_RE.search(_header(msg, "Subject")) or any(msg.get(h) for h in _AUTO_REPLY_HEADERS):
        return True
    return str(msg.get("Auto-Submitted", "")).strip().lower().startswith("auto-replied") and \
        str(msg.get("Precedence", "")).strip().lower() != "bulk" and not _from_mail_system(msg)


def _explanation(msg: Message) -> str:
    """The human-readable part of the bounce, up to where it quotes the original."""
    texts = list(_plain_texts(msg))
    if not texts:
        return ""
    marker = _COPY_MARKER.search(texts[0])
    return texts[0][: marker.start()] if marker else texts[0]


def _line_about(explanation: str, address: str) -> str:
    """The diagnostic for `address` in a text bounce: from the server's reply code in the
    paragraph that names it (else that paragraph) to the paragraph's end."""
    lines = explanation.splitlines()
    for i, line in enumerate(lines):
        if address in line.lower():
            end = next((j for j in range(i + 1, min(len(lines), i + 8)) if not lines[j].strip()), min(len(lines), i + 8))
            paragraph = lines[i:end]
            coded = next((k for k, ln in enumerate(paragraph) if _STATUS_RE.search(ln) or _SMTP_CODE_RE.search(ln)), 0)
            return _clean(" ".join(paragraph[coded:]))
    with_code = next((ln for ln in lines if _STATUS_RE.search(ln) or _SMTP_CODE_RE.search(ln)), "")
    return _clean(with_code)


def _plain_texts(msg: Message) -> Iterator[str]:
    """The explanatory text parts (not those inside the report or the returned message)."""
    if not msg.is_multipart():
        if msg.get_content_maintype() == "text":
            yield _text(msg)
        return
    for part in _children(msg):
        kind = part.get_content_type()
        if kind == "text/plain":
            yield _text(part)
        elif kind in ("multipart/alternative", "multipart/related", "multipart/mixed"):
            yield from _plain_texts(part)


def _children(msg: Message) -> list[Message]:
    """The sub-messages of a multipart, message/* or delivery-status part; [] otherwise."""
    payload = msg.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
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


def _enhanced(text: str) -> str | None:
    """The first enhanced status code (RFC 3463) in `text`: 5.1.1, 4.2.2."""
    match = _STATUS_RE.search(text)
    return ".".join(match.groups()) if match else None


def _address_of(field_value: str) -> str:
    """`rfc822; alice@example.org` -> `alice@example.org`."""
    value = field_value.partition(";")[2] if ";" in field_value else field_value
    return address_key(parseaddr(value.strip())[1] or value.strip().strip("<>"))
