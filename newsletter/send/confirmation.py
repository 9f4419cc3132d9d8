"""The sign-up confirmation mail: one short plain-text message with the signed link.

Delivered like a test send (testsend.py): through the configured relay, or the embedded
outbox by default (deliver/relay.py), by the same pool, so a confirmation never leaves
the machine unless the issue would too. One message, one attempt per transport retry
policy; a failure is reported to the caller (the site logs it), never raised at the
visitor, whose page must look the same whatever happens (no list enumeration).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from newsletter.config import Config
from newsletter.deliver import Job, PoolReport, Result, Transport, deliver, resolve_transport, with_transport
from newsletter.send.messages import load_signer_for

__all__ = ["Confirmation", "compose_confirmation", "send_confirmation"]


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """What the mail says: to whom, the link to follow, and until when it works."""

    email: str
    link: str
    expires: dt.datetime


def compose_confirmation(config: Config, confirmation: Confirmation, *, now: dt.datetime | None = None) -> bytes:
    """The complete message, CRLF line ends; DKIM-signed when the config signs the issue."""
    message = EmailMessage(policy=SMTP)
    name, address = parseaddr(config.sender)
    message["From"] = formataddr((name, address))
    message["To"] = confirmation.email
    message["Subject"] = f"Please confirm your subscription to {config.name}"
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = f"<signup.{secrets.token_hex(10)}@{config.sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if config.reply_to:
        message["Reply-To"] = config.reply_to
    until = confirmation.expires.strftime("%d %B %Y")
    text = (
        f"Someone, we hope you, asked to receive {config.name} at {confirmation.email}.\n\n"
        f"To confirm, open this link and press Confirm:\n\n{confirmation.link}\n\n"
        f"The link works until {until}. If you did not ask for this, ignore this email:\n"
        "you will not hear from us again.\n"
    )
    # 7bit keeps the link on one line, as written, for anyone who copies it by hand
    message.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "quoted-printable")
    data = message.as_bytes()
    signer = load_signer_for(config)
    return signer(data) if signer else data


class _OneJob:
    """The pool's job source for one message; a deferral is not retried (the visitor can ask again)."""

    def __init__(self, job: Job) -> None:
        self.job: Job | None = job
        self.result: Result | None = None

    async def next_job(self) -> Job | None:
        job, self.job = self.job, None
        return job

    def done(self, result: Result) -> None:
        self.result = result


async def send_confirmation(config: Config, confirmation: Confirmation) -> str | None:
    """Deliver the confirmation mail; None when the server took it, else what went wrong."""
    message = compose_confirmation(config, confirmation)
    source = _OneJob(Job(confirmation.email, config.sender_address, confirmation.email, message))

    async def body(transport: Transport, outbox: Path | None) -> PoolReport:
        return await deliver(source, dataclasses.replace(transport, concurrency=1))

    pool = await with_transport(resolve_transport(config), config, body, concurrency=1)
    if source.result is not None and source.result.status == "sent":
        return None
    return pool.stopped or (source.result.summary if source.result else "not sent")

