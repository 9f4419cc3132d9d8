"""The state file (SQLite): send runs, per-recipient state, suppressions, preferences.

Only this package speaks SQL, and callers use it through this one name (`journal.connect`,
`journal.suppress`, ...); the modules inside keep one group of tables each:
`db` opens the file and holds the schema and `transaction`; `runs` the send runs and
their recipients; `optouts` suppressions and theme preferences; `bouncelog` the bounces
received; `signups` the sign-ups and their consent; `clicks` the counted links (numbers
only) and `reporting` the counts the issue report adds up; `caches` the feed cache,
collected keys and link checks.
Addresses are stored by their key (`addresses.address_key`: trimmed, lower-cased), so
lookups ignore case.
"""

from __future__ import annotations

from newsletter.journal.bouncelog import (
    Bounce,
    bounce_counts,
    consecutive_soft_bounces,
    recipient_for_message_id,
    record_bounce,
    run_addresses,
    run_slug,
)
from newsletter.journal.caches import (
    CachedLink,
    FeedCache,
    collected_keys,
    get_feed_cache,
    get_link_checks,
    put_feed_cache,
    put_link_checks,
    record_collected,
)
from newsletter.journal.clicks import add_clicks, click_counts
from newsletter.journal.db import SCHEMA, connect, now, transaction
from newsletter.journal.optouts import (
    Suppression,
    all_preferences,
    get_preferences,
    get_suppression,
    is_suppressed,
    latest_recipient_themes,
    list_suppressions,
    saved_choices,
    set_preferences,
    suppress,
    suppress_many,
    suppressed_addresses,
    unsuppress,
    unsuppress_if,
)
from newsletter.journal.reporting import confirmed_signups_between, list_size, suppressions_between
from newsletter.journal.runs import (
    RECIPIENT_STATES,
    SUPPRESSED_DURING_RUN,
    NewRecipient,
    Outcome,
    RecipientRow,
    Run,
    apply_plan,
    checkpoint,
    finish_run,
    get_run,
    list_runs,
    open_run,
    recipient_states,
    recover_in_flight,
    retry_failed,
    run_counts,
    run_recipients,
)
from newsletter.journal.signups import (
    Signup,
    SignupRequest,
    claim_confirmation,
    confirm_signup,
    confirmed_signups,
    count_client,
    forget_unconfirmed,
    get_signup,
)
from newsletter.journal.states import DeliveryStatus, RecipientState, SkipReason, SuppressionReason

__all__ = [
    "DeliveryStatus",
    "RecipientState",
    "SkipReason",
    "SuppressionReason",
    "RECIPIENT_STATES",
    "SCHEMA",
    "SUPPRESSED_DURING_RUN",
    "Bounce",
    "CachedLink",
    "FeedCache",
    "NewRecipient",
    "Outcome",
    "RecipientRow",
    "Run",
    "Signup",
    "SignupRequest",
    "Suppression",
    "add_clicks",
    "all_preferences",
    "apply_plan",
    "bounce_counts",
    "checkpoint",
    "claim_confirmation",
    "click_counts",
    "confirm_signup",
    "confirmed_signups_between",
    "confirmed_signups",
    "count_client",
    "collected_keys",
    "connect",
    "consecutive_soft_bounces",
    "finish_run",
    "get_feed_cache",
    "get_link_checks",
    "get_preferences",
    "get_run",
    "forget_unconfirmed",
    "get_signup",
    "get_suppression",
    "is_suppressed",
    "latest_recipient_themes",
    "list_runs",
    "list_size",
    "list_suppressions",
    "now",
    "open_run",
    "put_feed_cache",
    "put_link_checks",
    "recipient_for_message_id",
    "recipient_states",
    "record_bounce",
    "record_collected",
    "recover_in_flight",
    "retry_failed",
    "run_addresses",
    "run_counts",
    "run_recipients",
    "run_slug",
    "saved_choices",
    "set_preferences",
    "suppress",
    "suppress_many",
    "suppressed_addresses",
    "suppressions_between",
    "transaction",
    "unsuppress",
    "unsuppress_if",
]
