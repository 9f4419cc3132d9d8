"""The sign-up mails: the confirmation with its signed link, and the optional welcome.

Each is one short message, plain text first and an HTML part in the issue's brand
(logo, organisation footer, palette; branded.py), composed here and delivered by the
site's one background sender (send/signupmail.py) through the configured relay, or the
embedded outbox by default, so it never leaves the machine unless the issue would too.
The welcome's words are `templates/subscribe/welcome.txt` and `welcome.html` (the
officer's copies in `templates/` win), with the newest issue's archive link when
`archive_url` is set and an issue is built, and the unsubscribe link and headers every
issue carries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import quote

from newsletter.config import Config, format_day, translations
from newsletter.issue import template_environment, wrap_text
from newsletter.send.branded import branded_html
from newsletter.send.messages import load_signer_for

# SMTP's 998-octet limit, not 78: a List-Unsubscribe URL with its token stays one plain
# header line instead of RFC 2047 words that no mail client would act on.
_POLICY = SMTP.clone(max_line_length=998)

__all__ = ["Confirmation", "Welcome", "compose_confirmation", "compose_welcome", "latest_issue_link"]


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """What the mail says: to whom, the link to follow, and until when it works."""

    email: str
    link: str
    expires: dt.datetime


@dataclasses.dataclass(frozen=True)
class Welcome:
    """The welcome after confirming: to whom (and their name), their unsubscribe token."""

    email: str
    name: str
    token: str


def _message(config: Config, to: str, subject: str, kind: str, now: dt.datetime | None) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    name, address = parseaddr(config.sender)
    message["From"] = formataddr((name, address))
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = f"<{kind}.{secrets.token_hex(10)}@{config.sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"
    if config.reply_to:
        message["Reply-To"] = config.reply_to
    return message


def _finish(config: Config, message: EmailMessage, text: str, html: str) -> bytes:
    # 7bit keeps a link on one line, as written, for anyone who copies it by hand
    message.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    data = message.as_bytes()
    signer = load_signer_for(config)
    return signer(data) if signer else data


def compose_confirmation(config: Config, confirmation: Confirmation, *, now: dt.datetime | None = None) -> bytes:
    """The complete message, CRLF line ends; DKIM-signed when the config signs the issue."""
    words = translations(config.language, config.locale_dir)
    subject = words.gettext("Please confirm your subscription to %(name)s") % {"name": config.name}
    message = _message(config, confirmation.email, subject, "signup", now)
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
    html = branded_html(config, "confirmation.html", subject=subject, email=confirmation.email,
                        link=confirmation.link, until=until)
    return _finish(config, message, text, html)


def latest_issue_link(config: Config) -> str | None:
    """The archive page of the newest built issue; None without `archive_url` or an issue."""
    if not config.archive_url or not config.issues_dir.is_dir():
        return None
    newest: tuple[str, str] | None = None
    for folder in config.issues_dir.iterdir():
        try:
            data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            end = str(data["range"]["end"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if newest is None or (end, folder.name) > newest:
            newest = (end, folder.name)
    return None if newest is None else f"{config.archive_url.rstrip('/')}/{quote(newest[1])}/"


def compose_welcome(config: Config, welcome: Welcome, *, now: dt.datetime | None = None) -> bytes:
    """The welcome message from its templates, with List-Unsubscribe as on every issue."""
    unsubscribe = f"{config.unsubscribe_url}?t={quote(welcome.token, safe='')}"
    subject = translations(config.language, config.locale_dir).gettext("Welcome to %(name)s") % {"name": config.name}
    message = _message(config, welcome.email, subject, "welcome", now)
    message["List-Id"] = f"<{config.list_id}>"
    message["List-Unsubscribe"] = f"<{unsubscribe}>, <mailto:{config.unsubscribe_mailto}?subject=unsubscribe>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    latest = latest_issue_link(config)
    contact = config.reply_to or config.sender_address
    text = template_environment(config).get_template("subscribe/welcome.txt").render(
        newsletter=config.name, name=welcome.name, email=welcome.email, latest_issue=latest,
        archive_url=config.archive_url, unsubscribe_url=unsubscribe, contact=contact,
    )
    # the HTML is rendered once per config with slots (branded.py): a value that may be
    # missing is a slot only when present, so the template can ask `is defined`
    optional = {"reader": welcome.name, "latest_issue": latest or "", "archive_url": config.archive_url or ""}
    html = branded_html(config, "subscribe/welcome.html", subject=subject, email=welcome.email,
                        unsubscribe_url=unsubscribe, contact=contact, **{k: v for k, v in optional.items() if v})
    return _finish(config, message, text, html)
