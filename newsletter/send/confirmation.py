"""The sign-up confirmation mail: one short message with the signed link, plain text first
and an HTML part in the issue's brand (logo, organisation footer, palette; branded.py).

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

from newsletter.config.loader import Config
from newsletter.deliver.connection import Transport
from newsletter.deliver.pool import PoolReport, deliver
from newsletter.deliver.relay import with_transport
from newsletter.deliver.transaction import Job, Result
from newsletter.i18n import format_day, translations
from newsletter.issue.render import wrap_text
from newsletter.journal import DeliveryStatus
from newsletter.send.branded import branded_html
from newsletter.send.messages import load_signer_for
from newsletter.send.transport import resolve_transport

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
    words = translations(config.language, config.locale_dir)
    subject = words.gettext("Please confirm your subscription to %(name)s") % {"name": config.name}
    message["Subject"] = subject
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = f"<signup.{secrets.token_hex(10)}@{config.sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if config.reply_to:
        message["Reply-To"] = config.reply_to
    until = format_day(confirmation.expires.date(), config.language)
    asked = words.gettext("Someone, we hope you, asked to receive %(name)s at %(email)s.")
    ending = words.gettext("The link works until %(until)s. If you did not ask for this, ignore this email: "
                           "you will not hear from us again.")
    text = "\n\n".join((
        wrap_text(asked % {"name": config.name, "email": confirmation.email}),
        words.gettext("To confirm, open this link and press Confirm:"),
        confirmation.link,
        wrap_text(ending % {"until": until}),
    )) + "\n"
    # 7bit keeps the link on one line, as written, for anyone who copies it by hand
    message.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "quoted-printable")
    html = branded_html(config, "confirmation.html", subject=subject, email=confirmation.email,
                        link=confirmation.link, until=until)
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
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

    pool = await with_transport(resolve_transport(config), config.outbox_dir, body, concurrency=1)
    if source.result is not None and source.result.status is DeliveryStatus.SENT:
        return None
    return pool.stopped or (source.result.summary if source.result else "not sent")

