"""The reminder: on `approval.remind_on`, the coming issue to its reviewers, with the approval link.

Run daily (after `collect`, by the same timer or cron line); it does something only on
the configured day of the month. The officer (the `reply_to` address, else the sender)
and `approval.approvers` each get one note: what the issue holds so far, what
`newsletter check` found, the link to the preview's Approve panel, and a test copy of
the issue attached (as their own `[TEST]` copy, composed exactly as a test send is).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from email.utils import formatdate, parseaddr

from newsletter.audience import Subscriber
from newsletter.config import Config, zone_of
from newsletter.issue import BuildResult
from newsletter.send.messages import Composer, TemplateCache, load_signer_for, unsubscribe_keys
from newsletter.send.notice import send_notice
from newsletter.send.testsend import TEST_PREFIX

__all__ = ["Reminder", "is_reminder_day", "reminder", "reviewers", "send_reminder"]


def is_reminder_day(config: Config, *, now: dt.datetime | None = None) -> bool:
    """Today, in the newsletter's zone, is `approval.remind_on`."""
    day = config.approval.remind_on
    today = (now or dt.datetime.now(dt.UTC)).astimezone(zone_of(config.timezone)).date()
    return day is not None and today.day == day


def reviewers(config: Config) -> list[str]:
    """The officer (reply-to, else the sender) and the approvers, each once."""
    officer = parseaddr(config.reply_to or config.sender)[1]
    seen: dict[str, str] = {}
    for address in (officer, *config.approval.approvers):
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


@dataclass(frozen=True)
class Reminder:
    subject: str
    text: str
    link: str


def reminder(config: Config, build: BuildResult) -> Reminder:
    """The note: the issue so far, its check results, where to approve it."""
    rendered = build.rendered
    slug = rendered.issue.range.slug
    errors = sum(1 for f in build.findings if f.severity == "error")
    warnings = len(build.findings) - errors
    link = config.approval.preview_url.rstrip("/") + "/#approval"
    text = (f"The {config.name} issue for {rendered.issue.range.label} is ready for review: "
            f"{len(rendered.issue.items)} items so far, subject {rendered.subject!r}.\n\n"
            f"`newsletter check` finds {errors} error{'s' * (errors != 1)} and "
            f"{warnings} warning{'s' * (warnings != 1)}.\n\n"
            f"A test copy is attached. To approve it, start the preview in the newsletter folder\n\n"
            f"    newsletter preview {slug}\n\n"
            f"and press Approve on\n\n    {link}\n\n"
            f"(or run `newsletter approve {slug} --by YOUR-NAME`). A scheduled send goes only as approved.\n")
    return Reminder(f"Review and approve: {rendered.subject}", text, link)


def _test_copy(config: Config, build: BuildResult, address: str) -> bytes:
    composer = Composer(config, TemplateCache(build.rendered, config, subject_prefix=TEST_PREFIX),
                        unsubscribe_keys(config), load_signer_for(config))
    return composer.message(Subscriber(address), f"<remind.{secrets.token_hex(10)}@{config.sender_domain}>",
                            formatdate(usegmt=True))


async def send_reminder(config: Config, build: BuildResult, addresses: list[str]) -> list[str]:
    """Mail the reminder with each reviewer's test copy; returns what went wrong ([] = all taken)."""
    note = reminder(config, build)
    copies = {a: _test_copy(config, build, a) for a in addresses}
    return await send_notice(config, addresses, note.subject, note.text, attached=copies)
