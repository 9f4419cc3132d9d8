"""The journal's fixed words: recipient states, delivery outcomes, skip and suppression reasons.

Each is a `StrEnum`, so the text stored in the state file is the member's value, unchanged
(`RecipientState.SENT == "sent"`), while code compares members, never display text:

| enum                | where it is stored                  | who writes it                        |
|---------------------|-------------------------------------|--------------------------------------|
| `RecipientState`    | `recipients.state`                  | the send (plan, claims, outcomes)    |
| `DeliveryStatus`    | not stored: `deliver.Result.status` | the SMTP pool; the send maps it to a state |
| `SkipReason`        | `recipients.reply` of a skipped row | the plan and the send                |
| `SuppressionReason` | `suppressions.reason`               | unsubscribes, bounces (and the officer) |
| `RunKind`           | `runs.kind`                         | the send: rehearsal or real (issue 26) |

`suppress add/import --reason` may store the officer's own word too (complaint, crm, ...).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DeliveryStatus", "RecipientState", "RunKind", "SkipReason", "SuppressionReason"]


class RecipientState(StrEnum):
    """pending -> sending -> sent | deferred | failed, or skipped (with a `SkipReason`)."""

    PENDING = "pending"
    SENDING = "sending"  # committed before the message goes out: a crash here is a possible duplicate
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunKind(StrEnum):
    """An issue's runs: the real one, and a rehearsal that counts nobody as sent for it."""

    REAL = "real"  # through a relay (loopback included): whoever it sends to is sent
    REHEARSAL = "rehearsal"  # into the embedded outbox: repeated freely, never a real send


class DeliveryStatus(StrEnum):
    """What the SMTP pool did with one job."""

    SENT = "sent"  # the server answered 250 to the data
    DEFERRED = "deferred"  # 4xx or a lost connection: try again later
    FAILED = "failed"  # 5xx: not again without --retry-failed
    UNSENT = "unsent"  # never tried (the run stopped first): handed back as pending


class SkipReason(StrEnum):
    """Why a recipient of a run gets nothing (the fixed ones; a suppression reads
    `suppressed (<reason>)`, a mid-run opt-out `unsubscribed during the run (<reason>)`)."""

    QUIET = "quiet month: no items in the chosen themes"
    UNSUBSCRIBED_IN_LIST = "unsubscribed in the list"
    GONE = "no longer in the list"
    SUPPRESSED_DURING_RUN = "unsubscribed during the run"

    @classmethod
    def of(cls, reply: str) -> SkipReason | None:
        """The reason a skipped row's reply starts with, or None (a suppression's own words)."""
        for reason in cls:
            if reply == reason or reply.startswith(f"{reason} ("):
                return reason
        return None


class SuppressionReason(StrEnum):
    """The reasons the tool itself stores; the officer may store others."""

    UNSUBSCRIBED = "unsubscribed"  # a link, one-click, the mailto, or `suppress add` (the default)
    HARD_BOUNCE = "hard-bounce"  # a 5xx at send time or a hard bounce in the return mailbox
    SOFT_BOUNCES = "soft-bounces"  # too many soft bounces in a row
    COMPLAINT = "complaint"  # a spam complaint (feedback loop) about a message we sent
    ERASED = "erased"  # `person forget`: the row's key is the address's keyed hash, not the address
