"""The audience stage: who gets an issue, and who must not.

Takes the subscriber CSV, confirmed sign-ups, saved theme choices, suppressions
(unsubscribes, CRM opt-outs) and bounce mailboxes; gives a `SubscriberList` of valid, de-duplicated
`Subscriber`s, each one's theme selection (`ThemeChoices`), and records opt-outs and
bounces in the journal so that every send leaves them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.faces import load

if TYPE_CHECKING:
    from newsletter.audience.bounceparse import parse_bounce
    from newsletter.audience.bounces import HARD_REASON, BounceImport, ScannedMessage, import_bounces, scan_messages
    from newsletter.audience.choices import (
        Selection,
        ThemeChoices,
        apply_choices,
        check_list_themes,
        describe,
        export_subscribers,
        merged_rows,
        ordered,
        selection_of,
        stored_choice,
        unknown_theme_error,
        write_export,
    )
    from newsletter.audience.signups import confirm, forget_expired, read_request, request_signup, with_signups
    from newsletter.audience.subscribers import Subscriber, SubscriberList, check_address, read_subscribers
    from newsletter.audience.suppressions import (
        SuppressResult,
        export_suppressions,
        import_optouts,
        normalise_address,
        read_optouts,
        suppress_addresses,
        write_suppressions,
    )
    from newsletter.audience.verp import verp_address

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "apply_choices": "newsletter.audience.choices",
    "BounceImport": "newsletter.audience.bounces",
    "check_address": "newsletter.audience.subscribers",
    "check_list_themes": "newsletter.audience.choices",
    "confirm": "newsletter.audience.signups",
    "describe": "newsletter.audience.choices",
    "export_subscribers": "newsletter.audience.choices",
    "export_suppressions": "newsletter.audience.suppressions",
    "forget_expired": "newsletter.audience.signups",
    "HARD_REASON": "newsletter.audience.bounces",
    "import_bounces": "newsletter.audience.bounces",
    "import_optouts": "newsletter.audience.suppressions",
    "merged_rows": "newsletter.audience.choices",
    "normalise_address": "newsletter.audience.suppressions",
    "ordered": "newsletter.audience.choices",
    "parse_bounce": "newsletter.audience.bounceparse",
    "read_optouts": "newsletter.audience.suppressions",
    "read_request": "newsletter.audience.signups",
    "read_subscribers": "newsletter.audience.subscribers",
    "request_signup": "newsletter.audience.signups",
    "scan_messages": "newsletter.audience.bounces",
    "ScannedMessage": "newsletter.audience.bounces",
    "Selection": "newsletter.audience.choices",
    "selection_of": "newsletter.audience.choices",
    "stored_choice": "newsletter.audience.choices",
    "Subscriber": "newsletter.audience.subscribers",
    "SubscriberList": "newsletter.audience.subscribers",
    "suppress_addresses": "newsletter.audience.suppressions",
    "SuppressResult": "newsletter.audience.suppressions",
    "ThemeChoices": "newsletter.audience.choices",
    "unknown_theme_error": "newsletter.audience.choices",
    "verp_address": "newsletter.audience.verp",
    "with_signups": "newsletter.audience.signups",
    "write_export": "newsletter.audience.choices",
    "write_suppressions": "newsletter.audience.suppressions",
}

__all__ = [
    "apply_choices",
    "BounceImport",
    "check_address",
    "check_list_themes",
    "confirm",
    "describe",
    "export_subscribers",
    "export_suppressions",
    "forget_expired",
    "HARD_REASON",
    "import_bounces",
    "import_optouts",
    "merged_rows",
    "normalise_address",
    "ordered",
    "parse_bounce",
    "read_optouts",
    "read_request",
    "read_subscribers",
    "request_signup",
    "scan_messages",
    "ScannedMessage",
    "Selection",
    "selection_of",
    "stored_choice",
    "Subscriber",
    "SubscriberList",
    "suppress_addresses",
    "SuppressResult",
    "ThemeChoices",
    "unknown_theme_error",
    "verp_address",
    "with_signups",
    "write_export",
    "write_suppressions",
]


def __getattr__(name: str) -> object:
    return load(__name__, _EXPORTS, name)
