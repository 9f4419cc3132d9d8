"""Short mails to the people who run the newsletter: a refused scheduled send, a reminder.

Not for subscribers: plain text, to the addresses in `approval.notify` or the officer
and `approval.approvers`, delivered like a test send (through the configured relay, or
the embedded outbox by default) so a notice never leaves the machine unless the issue
would too. A reminder carries the test copy of the issue as an attached message
(message/rfc822), which mail clients show inline below the note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections import deque
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from newsletter.config import Config
from newsletter.deliver import Job, PoolReport, Result, Transport, deliver, with_transport
from newsletter.issue import clean_header_text
from newsletter.journal import DeliveryStatus
from newsletter.send.transport import resolve_transport

__all__ = ["compose_notice", "send_notice"]


def compose_notice(config: Config, to: str, subject: str, text: str, *, attached: bytes | None = None) -> bytes:
    """One plain-text note (with `attached`, a complete message, as message/rfc822)."""
    message = EmailMessage(policy=SMTP)
    name, address = parseaddr(config.sender)
    message["From"] = formataddr((name, address))
    message["To"] = to
    message["Subject"] = clean_header_text(subject)  # from data (subjects, names): never two headers
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = f"<notice.{secrets.token_hex(10)}@{config.sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    if attached is not None:
        copy = BytesParser(policy=default).parsebytes(attached)
        message.add_attachment(copy, disposition="inline")
    return message.as_bytes()


class _Source:
    """The pool's job source for a few notes; nothing is retried (a notice is not a send)."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = deque(jobs)
        self.failed: list[str] = []

    async def next_job(self) -> Job | None:
        return self.jobs.popleft() if self.jobs else None

    def done(self, result: Result) -> None:
        if result.status is not DeliveryStatus.SENT:
            self.failed.append(f"{result.job.recipient}: {result.summary}")


async def send_notice(config: Config, addresses: list[str], subject: str, text: str, *,
                      attached: dict[str, bytes] | None = None) -> list[str]:
    """Deliver the note to each address; returns what went wrong ([] = all taken)."""
    if not addresses:
        return []
    jobs = [Job(a.lower(), config.sender_address, a,
                compose_notice(config, a, subject, text, attached=(attached or {}).get(a)))
            for a in addresses]
    source = _Source(jobs)

    async def body(transport: Transport, outbox: Path | None) -> PoolReport:
        return await deliver(source, dataclasses.replace(transport, concurrency=1))

    pool = await with_transport(resolve_transport(config), config.outbox_dir, body, concurrency=1)
    return source.failed + ([pool.stopped] if pool.stopped and not source.failed else [])
