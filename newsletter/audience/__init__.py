"""The audience stage: who gets an issue, and who must not.

Takes the subscriber CSV, confirmed sign-ups, saved theme choices, suppressions
(unsubscribes, CRM opt-outs) and bounce mailboxes; gives the resolved `Audience`
(`resolve`: who is mailed, each with their theme selection, and the problems found),
which the send, the version checks, the dry run and the export all read, and records
opt-outs and bounces in the journal so that every send leaves them out.
"""

from __future__ import annotations

from newsletter.audience.bounces import import_bounces
from newsletter.audience.choices import ThemeChoices, apply_choices
from newsletter.audience.resolved import Audience, resolve
from newsletter.audience.signups import confirm, record_request, with_signups
from newsletter.audience.subscribers import Subscriber, SubscriberList, read_subscribers
from newsletter.audience.suppressions import export_suppressions, import_optouts

__all__ = [
    "Audience",
    "resolve",
    "confirm",
    "record_request",
    "with_signups",
    "Subscriber",
    "SubscriberList",
    "ThemeChoices",
    "apply_choices",
    "export_suppressions",
    "import_bounces",
    "import_optouts",
    "read_subscribers",
]
