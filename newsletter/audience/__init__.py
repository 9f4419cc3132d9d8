"""The audience stage: who gets an issue, and who must not.

Takes the subscriber CSV, confirmed sign-ups, saved theme choices, suppressions
(unsubscribes, CRM opt-outs) and bounce mailboxes; gives the resolved `Audience`
(`resolve`: who is mailed, each with their theme selection, and the problems found),
which the send, the version checks, the dry run and the export all read, and records
opt-outs and bounces in the journal so that every send leaves them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.audience.bounceparse import parse_bounce, read_message
    from newsletter.audience.bounces import BounceImport, ScannedMessage, import_bounces, import_messages, scan_messages, scan_raw
    from newsletter.audience.choices import ThemeChoices
    from newsletter.audience.export import export_subscribers, merged_rows, write_export
    from newsletter.audience.imapbox import ImapMailbox, parse_imap_url
    from newsletter.audience.person import forget_person, person_report
    from newsletter.audience.resolved import Audience, resolve
    from newsletter.audience.signups import (
        claim_mail,
        clean_name,
        client_network,
        confirm,
        forget_expired,
        mailbox_key,
        read_request,
        record_request,
    )
    from newsletter.audience.subscribers import RowProblem, Subscriber, SubscriberList, read_subscribers
    from newsletter.audience.suppressions import (
        SuppressResult,
        export_suppressions,
        import_optouts,
        read_optouts,
        suppress_addresses,
        write_suppressions,
    )
    from newsletter.audience.verp import verp_address

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "Audience": "newsletter.audience.resolved",
    "BounceImport": "newsletter.audience.bounces",
    "claim_mail": "newsletter.audience.signups",
    "clean_name": "newsletter.audience.signups",
    "client_network": "newsletter.audience.signups",
    "confirm": "newsletter.audience.signups",
    "export_subscribers": "newsletter.audience.export",
    "export_suppressions": "newsletter.audience.suppressions",
    "forget_expired": "newsletter.audience.signups",
    "forget_person": "newsletter.audience.person",
    "ImapMailbox": "newsletter.audience.imapbox",
    "import_bounces": "newsletter.audience.bounces",
    "import_messages": "newsletter.audience.bounces",
    "import_optouts": "newsletter.audience.suppressions",
    "mailbox_key": "newsletter.audience.signups",
    "merged_rows": "newsletter.audience.export",
    "parse_bounce": "newsletter.audience.bounceparse",
    "parse_imap_url": "newsletter.audience.imapbox",
    "person_report": "newsletter.audience.person",
    "read_message": "newsletter.audience.bounceparse",
    "read_optouts": "newsletter.audience.suppressions",
    "read_request": "newsletter.audience.signups",
    "read_subscribers": "newsletter.audience.subscribers",
    "record_request": "newsletter.audience.signups",
    "resolve": "newsletter.audience.resolved",
    "RowProblem": "newsletter.audience.subscribers",
    "scan_messages": "newsletter.audience.bounces",
    "scan_raw": "newsletter.audience.bounces",
    "ScannedMessage": "newsletter.audience.bounces",
    "Subscriber": "newsletter.audience.subscribers",
    "SubscriberList": "newsletter.audience.subscribers",
    "suppress_addresses": "newsletter.audience.suppressions",
    "SuppressResult": "newsletter.audience.suppressions",
    "ThemeChoices": "newsletter.audience.choices",
    "verp_address": "newsletter.audience.verp",
    "write_export": "newsletter.audience.export",
    "write_suppressions": "newsletter.audience.suppressions",
}

__all__ = [
    "Audience",
    "BounceImport",
    "claim_mail",
    "clean_name",
    "client_network",
    "confirm",
    "export_subscribers",
    "export_suppressions",
    "forget_expired",
    "forget_person",
    "ImapMailbox",
    "import_bounces",
    "import_messages",
    "import_optouts",
    "mailbox_key",
    "merged_rows",
    "parse_bounce",
    "parse_imap_url",
    "person_report",
    "read_message",
    "read_optouts",
    "read_request",
    "read_subscribers",
    "record_request",
    "resolve",
    "RowProblem",
    "scan_messages",
    "scan_raw",
    "ScannedMessage",
    "Subscriber",
    "SubscriberList",
    "suppress_addresses",
    "SuppressResult",
    "ThemeChoices",
    "verp_address",
    "write_export",
    "write_suppressions",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
