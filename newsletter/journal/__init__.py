"""The state file (SQLite): send runs, per-recipient state, suppressions, preferences.

Only this package speaks SQL, and callers use it through this one name (`journal.connect`,
`journal.suppress`, ...); the modules inside keep one group of tables each:
`db` opens the file and holds the schema and `transaction`; `runs` the send runs and
their recipients; `optouts` suppressions and theme preferences; `bouncelog` the bounces
received; `caches` the feed cache, collected keys and link checks.
Addresses are stored lower-cased and trimmed, so lookups ignore case.
"""

from __future__ import annotations

from newsletter.journal.bouncelog import (
    Bounce,
    bounce_counts,
    consecutive_soft_bounces,
    latest_sent_run,
    recipient_for_message_id,
    record_bounce,
    run_id_for_slug,
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
from newsletter.journal.db import SCHEMA, connect, normalise_email, now, transaction
from newsletter.journal.optouts import (
    Suppression,
    all_preferences,
    get_preferences,
    is_suppressed,
    latest_recipient_themes,
    list_suppressions,
    saved_choices,
    set_preferences,
    suppress,
    suppress_many,
    suppressed_addresses,
    unsuppress,
)
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

__all__ = [
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
    "Suppression",
    "all_preferences",
    "apply_plan",
    "bounce_counts",
    "checkpoint",
    "collected_keys",
    "connect",
    "consecutive_soft_bounces",
    "finish_run",
    "get_feed_cache",
    "get_link_checks",
    "get_preferences",
    "get_run",
    "is_suppressed",
    "latest_recipient_themes",
    "latest_sent_run",
    "list_runs",
    "list_suppressions",
    "normalise_email",
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
    "run_counts",
    "run_id_for_slug",
    "run_recipients",
    "saved_choices",
    "set_preferences",
    "suppress",
    "suppress_many",
    "suppressed_addresses",
    "transaction",
    "unsuppress",
]
