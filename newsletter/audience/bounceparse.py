"""What a message in the return mailbox says: which addresses failed, how, and which message it returns.

Which addresses failed comes from three readers, merged: the RFC 3464 per-recipient
blocks of a delivery-status part (every recipient of a block, even two written without
the blank line between them), `flufl.bounce` (Mailman's detectors for Postfix, Exim,
qmail, Sendmail, Exchange, GroupWise, Yahoo, AOL, SMTP32 and the DSN dialects), and our
own readers of the plain-text formats it misses (`bouncetext.py`: Sendmail V5
transcripts, DragonFly, OpenSMTPD, Office 365 without a report, au/KDDI, Japanese MTAs)
and of Amazon SES JSON (`reports.py`). Hard or soft is `bouncekind.classify`'s verdict on
the status code and the server's words, never the library's permanent/temporary split:
a final 550 for a full mailbox or a blocklist is soft.

`read_message` also tells the other mail of that mailbox apart: complaints (ARF, SES),
auto-replies (RFC 3834), delivered notices; a person's mail is `other`. Pure functions
over `email.message.Message`: no journal, no mailbox, so each server's quirks can be
tested from a sample file. `bounces.py` matches the result to what `send` sent.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from newsletter.addresses import address_key
from newsletter.audience.bouncekind import HARD, SOFT, classify, undecided
from newsletter.audience.bouncetext import text_failures
from newsletter.audience.mimeparts import children, clean, plain_texts, text, walk_outside_returned
from newsletter.audience.reports import Complaint, SesNotice, is_auto_reply, read_arf, read_ses

__all__ = ["FailedAddress", "ParsedBounce", "Reading", "parse_bounce", "read_message"]

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
    r"Undelivered message|The header of the original message|Returned message|Unsent message|"
    r"Original message headers)|^[ \t]*(Original message follows|The original message was received|"
    r"Original message headers:|Message headers follow|Below is a copy of the original message)",
    re.IGNORECASE | re.MULTILINE,
)
_DAEMON_LOCAL_PARTS = {"mailer-daemon", "postmaster", "mailerdaemon", "mail-daemon", "mail.daemon"}
_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
_NOT_FAILED_ACTIONS = ("delivered", "relayed", "expanded")


@dataclass(frozen=True)
class FailedAddress:
    """One recipient's failure as a bounce message reports it, before matching."""

    recipient: str  # the failed address, lower-case
    status: str  # enhanced status code: 5.1.1 (hard), 5.2.2 (soft); x.0.0 when the bounce gives none
    diagnostic: str
    kind: str = HARD  # hard | soft (bouncekind.classify)
    delayed: bool = False  # a delay warning: the server is still trying, not a bounce yet


@dataclass(frozen=True)
class ParsedBounce:
    """What one message says: its failures, the original Message-IDs, where it was sent."""

    failures: tuple[FailedAddress, ...]
    original_ids: tuple[str, ...]
    envelope_to: tuple[str, ...]  # the addresses it was delivered to: VERP return paths
    from_mail_system: bool  # null sender, MAILER-DAEMON or postmaster: a plain-text bounce may count
    is_report: bool  # an RFC 3464 delivery status notification (or a provider's JSON one)

    @property
    def delayed(self) -> bool:
        """Only delay warnings: nothing to record yet."""
        return all(f.delayed for f in self.failures)

    @property
    def final(self) -> tuple[FailedAddress, ...]:
        """The failures the server has given up on (hard or soft), without the delay warnings."""
        return tuple(f for f in self.failures if not f.delayed)


@dataclass(frozen=True)
class Reading:
    """What kind of mail a message is, and what it says.

    kind: bounce | delay | complaint | auto-reply | delivered | other.
    """

    kind: str
    bounce: ParsedBounce | None = None
    complaint: Complaint | None = None
    envelope_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class _DsnRecord:
    address: str
    action: str
    status: str | None
    diagnostic: str


def read_message(msg: Message) -> Reading:
    """What one message in the return mailbox is: a bounce, a complaint, an auto-reply..."""
    envelope = _envelope_to(msg)
    complaint = read_arf(msg)
    if complaint is not None:
        return Reading("complaint", complaint=complaint, envelope_to=envelope)
    ses = read_ses(msg)
    if ses is not None and ses.kind != "Bounce":
        return Reading("complaint" if ses.complaint else "delivered", complaint=ses.complaint, envelope_to=envelope)
    parsed = _ses_bounce(msg, ses) if ses is not None else _parse(msg)
    if parsed is not None:
        return Reading("delay" if parsed.delayed else "bounce", bounce=parsed, envelope_to=envelope)
    records = _dsn_records(msg)
    if records and all(r.action.startswith(_NOT_FAILED_ACTIONS) for r in records):
        return Reading("delivered", envelope_to=envelope)
    if is_auto_reply(msg, _from_mail_system(msg)) or _auto_submitted(msg):
        return Reading("auto-reply", envelope_to=envelope)
    return Reading("other", envelope_to=envelope)


def parse_bounce(msg: Message) -> ParsedBounce | None:
    """What a message reports, or None if it is not a bounce (an auto-reply, a person's mail)."""
    ses = read_ses(msg)
    if ses is not None:
        return _ses_bounce(msg, ses) if ses.kind == "Bounce" else None
    return _parse(msg)


def _parse(msg: Message) -> ParsedBounce | None:
    """A DSN or a plain-text bounce: every failed recipient, hard or soft."""
    records = _dsn_records(msg)
    is_report = bool(records) or msg.get_content_type() == "multipart/report"
    from_system = _from_mail_system(msg)
    if not is_report and is_auto_reply(msg, from_system):
        return None
    temporary, permanent = _library_failures(msg)
    explanation = _explanation(msg)
    texts = text_failures(explanation) if (from_system or is_report) else {}
    failed = {r.address: r for r in records if r.action.startswith("fail")}
    warned = {r.address: r for r in records if r.action == "delayed"}
    final = (permanent | set(failed) | set(texts)) - set(warned)
    failures = [_failure(a, failed.get(a), texts.get(a) or _line_about(explanation, a), explanation)
                for a in sorted(final)]
    for address in sorted((temporary | set(warned)) - final):
        record = warned.get(address)
        status = (record.status if record else None) or "4.0.0"
        diagnostic = record.diagnostic if record else _line_about(explanation, address)
        failures.append(FailedAddress(address, status, diagnostic, SOFT, delayed=True))
    if not failures:
        return None
    return ParsedBounce(tuple(failures), tuple(_original_ids(msg)), _envelope_to(msg), from_system, is_report)


def _failure(address: str, record: _DsnRecord | None, line: str, explanation: str) -> FailedAddress:
    """Hard or soft by the status code and the server's words (bouncekind.classify); when
    the words about this address say nothing, the whole explanation's words."""
    if record is not None:
        diagnostic = record.diagnostic or line
        status = record.status
    else:
        diagnostic = line
        status = _enhanced(diagnostic)
    kind, code = classify(status, diagnostic)
    if undecided(status, diagnostic):
        kind, code = classify(status or _enhanced(explanation), clean(explanation, 3000))
    return FailedAddress(address, code, diagnostic, kind)


def _ses_bounce(msg: Message, ses: SesNotice) -> ParsedBounce | None:
    """An SES bounce notification: its recipients, classified like any DSN's."""
    failures = []
    for b in ses.bounced:
        if not _VALID_ADDRESS_RE.match(b.recipient):
            continue
        status = b.status or _enhanced(b.diagnostic)
        kind, code = classify(status if b.permanent else (status or "4.0.0").replace("5.", "4.", 1), b.diagnostic)
        failures.append(FailedAddress(b.recipient, code, b.diagnostic, kind))
    if not failures:
        return None
    return ParsedBounce(tuple(failures), ses.original_ids, ses.source + _envelope_to(msg), True, True)


def _library_failures(msg: Message) -> tuple[set[str], set[str]]:
    """(temporary, permanent) addresses by Mailman's detectors, lower-cased, valid ones only.

    A mailbox holds whatever the internet sent, and a detector can fail on a malformed
    message (flufl.bounce 6.0's Yale detector raises IndexError on a message without a
    From header). One such message must not stop the import: the library then reports
    nothing for it and our own readings, if any, stand alone.
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
    """The per-recipient records of every message/delivery-status part (not of a returned copy)."""
    records = []
    for part in walk_outside_returned(msg):
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in children(part)[1:]:
            for fields in _recipients_of(block):
                records.extend(_record(fields))
    return records


def _recipients_of(block: Message) -> list[dict[str, str]]:
    """One dict of fields per recipient. A block naming two recipients without the blank
    line between them starts a new record at each Final-Recipient (taking along an
    Original-Recipient written just before it)."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for name, value in block.items():
        key = name.lower()
        if key == "final-recipient" and "final-recipient" in current:
            carried = {}
            if list(current)[-1] == "original-recipient":  # it belongs to the next recipient
                carried = {"original-recipient": current.pop("original-recipient")}
            out.append(current)
            current = carried
        current.setdefault(key, str(value))
    if current:
        out.append(current)
    return out


def _record(fields: dict[str, str]) -> list[_DsnRecord]:
    named = fields.get("original-recipient") or fields.get("final-recipient") or ""
    address = _address_of(named)
    if not _VALID_ADDRESS_RE.match(address):
        address = _address_of(fields.get("final-recipient", ""))
        if not _VALID_ADDRESS_RE.match(address):
            return []
    code = fields.get("diagnostic-code", "")
    diagnostic = clean(code.partition(";")[2] if ";" in code else code)
    status = _enhanced(fields.get("status", "")) or _enhanced(diagnostic)
    if status is None:
        basic = _SMTP_CODE_RE.search(diagnostic)
        status = f"{basic.group(1)[0]}.0.0" if basic else None
    return [_DsnRecord(address, fields.get("action", "").strip().lower(), status, diagnostic)]


def _original_ids(msg: Message) -> list[str]:
    """Message-IDs of the returned original: attached message, its headers, or a quoted copy."""
    ids: list[str] = []
    for part in walk_outside_returned(msg):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            ids += [str(m["Message-ID"]) for m in children(part) if m.get("Message-ID")]
        elif kind in ("text/rfc822-headers", "text/rfc822-header"):
            ids += _MESSAGE_ID_RE.findall(text(part))
        elif kind == "message/delivery-status":
            blocks = children(part)
            if blocks and blocks[0].get("X-Original-Message-ID"):
                ids.append(str(blocks[0]["X-Original-Message-ID"]))  # Gmail names it here too
    for body in plain_texts(msg):
        marker = _COPY_MARKER.search(body)
        ids += _MESSAGE_ID_RE.findall(body[marker.start():] if marker else body)
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


def _auto_submitted(msg: Message) -> bool:
    """RFC 3834: anything automatic (auto-replied, auto-generated) that is not a bounce."""
    value = str(msg.get("Auto-Submitted", "")).strip().lower()
    return bool(value) and value != "no"


def _explanation(msg: Message) -> str:
    """The human-readable part of the bounce, up to where it quotes the original."""
    texts = list(plain_texts(msg))
    if not texts:
        return ""
    first = texts[0][:500_000]
    marker = next((m for m in _COPY_MARKER.finditer(first) if first[: m.start()].strip()), None)
    return first[: marker.start()] if marker else first


def _line_about(explanation: str, address: str) -> str:
    """The diagnostic for `address` in a text bounce: from the server's reply code in the
    paragraph that names it (else that paragraph) to the paragraph's end."""
    lines = explanation[:200_000].splitlines()
    for i, line in enumerate(lines):
        if address in line.lower():
            end = next((j for j in range(i + 1, min(len(lines), i + 8)) if not lines[j].strip()), min(len(lines), i + 8))
            paragraph = lines[i:end]
            coded = next((k for k, ln in enumerate(paragraph) if _STATUS_RE.search(ln) or _SMTP_CODE_RE.search(ln)), 0)
            return clean(" ".join(paragraph[coded:]))
    with_code = next((ln for ln in lines if _STATUS_RE.search(ln) or _SMTP_CODE_RE.search(ln)), "")
    return clean(with_code)


def _enhanced(value: str) -> str | None:
    """The first enhanced status code (RFC 3463) in `value`: 5.1.1, 4.2.2."""
    match = _STATUS_RE.search(value)
    return ".".join(match.groups()) if match else None


def _address_of(field_value: str) -> str:
    """`rfc822; alice@example.org` -> `alice@example.org`."""
    value = field_value.partition(";")[2] if ";" in field_value else field_value
    return address_key(parseaddr(value.strip())[1] or value.strip().strip("<>"))
