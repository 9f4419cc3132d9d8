"""Machine reports in the return mailbox that are not classic bounces.

- **Complaints** (feedback loops, ARF, RFC 5965): a `multipart/report;
  report-type=feedback-report` whose `message/feedback-report` part says which message
  the recipient called spam (`Original-Rcpt-To`, `Original-Mail-From`, and the returned
  message or its headers with our Message-ID). Gmail and Yahoo expect you to stop mailing
  them: the recipient is suppressed as `complaint`.
- **Amazon SES notifications** (by email, or an SNS envelope around one): JSON with
  `notificationType` `Bounce` (bounced recipients with action, status, diagnostic),
  `Complaint` or `Delivery`; `mail.source` is the envelope sender (our VERP path) and
  `mail.commonHeaders.messageId` the Message-ID we gave the message.
- **Auto-replies** (RFC 3834 `Auto-Submitted: auto-replied`, vacation subjects) and
  **delivered notices** (a DSN whose every action is delivered, relayed or expanded; SES
  `Delivery`): counted, never acted on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses, parseaddr

from newsletter.audience.mimeparts import children, clean, header, plain_texts, text, walk_outside_returned

__all__ = ["Complaint", "SesBounce", "SesNotice", "is_auto_reply", "read_arf", "read_ses"]

_AUTO_REPLY_SUBJECT_RE = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|absence|"
    r"away from|on vacation|vacation reply|r[ée]ponse automatique|risposta automatica)",
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply")
_JSON_LIMIT = 1_000_000


@dataclass(frozen=True)
class Complaint:
    """A recipient said "this is spam" about one of our messages (as far as the report says)."""

    recipients: tuple[str, ...]  # addresses the report names (often redacted: may be empty)
    original_ids: tuple[str, ...]
    envelope_from: tuple[str, ...]  # the return path of the reported message: our VERP path
    feedback_type: str  # abuse, fraud, ...


@dataclass(frozen=True)
class SesBounce:
    """One recipient of an SES bounce notification."""

    recipient: str
    status: str | None
    diagnostic: str
    permanent: bool


@dataclass(frozen=True)
class SesNotice:
    """One Amazon SES notification: what kind, and what it says."""

    kind: str  # Bounce | Complaint | Delivery
    bounced: tuple[SesBounce, ...]
    complaint: Complaint | None
    original_ids: tuple[str, ...]
    source: tuple[str, ...]


def read_arf(msg: Message) -> Complaint | None:
    """The complaint an ARF report makes, or None if the message is not one."""
    report = next((p for p in walk_outside_returned(msg) if p.get_content_type() == "message/feedback-report"), None)
    if report is None:
        return None
    fields = _report_fields(report)
    recipients = [_addr(v) for v in fields.get("original-rcpt-to", []) + fields.get("removal-recipient", [])]
    original_ids: list[str] = []
    for part in walk_outside_returned(msg):
        kind = part.get_content_type()
        if kind == "message/rfc822":
            original_ids += [str(m["Message-ID"]).strip() for m in children(part) if m.get("Message-ID")]
            recipients += [a.lower() for m in children(part) for _, a in getaddresses(m.get_all("To", [])) if a]
        elif kind in ("text/rfc822-headers", "text/rfc822-header"):
            original_ids += re.findall(r"(?im)^Message-ID:[ \t]*(<[^>\s]+>)", text(part))
    feedback = (fields.get("feedback-type") or ["abuse"])[0].lower()
    return Complaint(tuple(dict.fromkeys(r for r in recipients if "@" in r)), tuple(dict.fromkeys(original_ids)),
                     tuple(_addr(v) for v in fields.get("original-mail-from", [])), feedback)


def _report_fields(part: Message) -> dict[str, list[str]]:
    """The feedback report's fields (parsed as one block of headers, or as text)."""
    fields: dict[str, list[str]] = {}
    blocks = children(part) or []
    if blocks:
        for block in blocks:
            for name, value in block.items():
                fields.setdefault(name.lower(), []).append(str(value).strip())
        return fields
    for match in re.finditer(r"(?m)^([A-Za-z-]+):[ \t]*(.+)$", text(part)[:100_000]):
        fields.setdefault(match.group(1).lower(), []).append(match.group(2).strip())
    return fields


def read_ses(msg: Message) -> SesNotice | None:
    """An Amazon SES notification (bare, or inside an SNS envelope), or None."""
    body = next((t for t in plain_texts(msg) if "notificationType" in t or '"Type"' in t), None)
    if body is None or len(body) > _JSON_LIMIT:
        return None
    try:
        data = json.loads(body.strip())
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            data = json.loads(data["Message"])  # SNS: the notification is a string inside
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("notificationType") not in ("Bounce", "Complaint", "Delivery"):
        return None
    return _ses_notice(data)


def _ses_notice(data: dict[str, object]) -> SesNotice:
    mail = _dict(data.get("mail"))
    common = _dict(mail.get("commonHeaders"))
    ids = [str(common["messageId"])] if isinstance(common.get("messageId"), str) else []
    for item in _list(mail.get("headers")):
        entry = _dict(item)
        if str(entry.get("name", "")).lower() == "message-id":
            ids.append(str(entry.get("value", "")))
    source = tuple(a for a in (_addr(str(mail.get("source", ""))),) if "@" in a)
    kind = str(data["notificationType"])
    bounce = _dict(data.get("bounce"))
    permanent = bounce.get("bounceType") == "Permanent"
    bounced = []
    for item in _list(bounce.get("bouncedRecipients")):
        entry = _dict(item)
        address = _addr(str(entry.get("emailAddress", "")))
        if "@" in address:
            code = str(entry.get("diagnosticCode", "")).partition(";")
            diagnostic = clean(code[2] or code[0] or str(bounce.get("bounceSubType", "")))
            status = entry.get("status")
            bounced.append(SesBounce(address, str(status) if isinstance(status, str) else None, diagnostic, permanent))
    complaint = None
    if kind == "Complaint":
        body = _dict(data.get("complaint"))
        named = [_addr(str(_dict(e).get("emailAddress", ""))) for e in _list(body.get("complainedRecipients"))]
        complaint = Complaint(tuple(a for a in named if "@" in a), tuple(dict.fromkeys(ids)), source,
                              str(body.get("complaintFeedbackType", "abuse")).lower())
    return SesNotice(kind, tuple(bounced), complaint, tuple(dict.fromkeys(i.strip() for i in ids if i)), source)


def is_auto_reply(msg: Message, from_mail_system: bool) -> bool:
    """An out-of-office or other automatic answer from a person's mailbox (RFC 3834), not a
    mail system's report."""
    subject = header(msg, "Subject")
    if from_mail_system and not _AUTO_REPLY_SUBJECT_RE.search(subject):
        return False
    if _AUTO_REPLY_SUBJECT_RE.search(subject) or any(msg.get(h) for h in _AUTO_REPLY_HEADERS):
        return True
    return str(msg.get("Auto-Submitted", "")).strip().lower().startswith("auto-replied") and \
        str(msg.get("Precedence", "")).strip().lower() != "bulk" and not from_mail_system


def _addr(value: str) -> str:
    value = value.partition(";")[2] if ";" in value else value
    return (parseaddr(value.strip())[1] or value.strip().strip("<>")).lower()


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value[:1000] if isinstance(value, list) else []
