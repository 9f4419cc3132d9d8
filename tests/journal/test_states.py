"""Recipient states and reasons are typed members whose text is what the state file
always held, so an existing state file reads the same and nothing matches display text."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from newsletter import journal
from newsletter.journal import RecipientState, SkipReason


def test_states_are_stored_as_the_same_text_and_read_back_typed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with contextlib.closing(journal.connect(path)) as db:
        run = journal.open_run(db, "2023-07", subject="s", digest="d", subscribers="subscribers.csv")
        journal.apply_plan(db, run.id, new=[
            journal.NewRecipient("a@example.org", "A@example.org", "", None, RecipientState.PENDING, "", "<1@x>"),
            journal.NewRecipient("q@example.org", "q@example.org", "", None, RecipientState.SKIPPED,
                                 SkipReason.QUIET, "<2@x>"),
        ], wanted=[], skip=[])
        rows = {r.key: r for r in journal.run_recipients(db, run.id)}
    with contextlib.closing(sqlite3.connect(path)) as raw:
        stored = dict(raw.execute("SELECT email, state || '|' || reply FROM recipients").fetchall())
    assert stored == {"a@example.org": "pending|", "q@example.org": "skipped|quiet month: no items in the chosen themes"}
    assert rows["a@example.org"].state is RecipientState.PENDING and rows["a@example.org"].skip_reason is None
    assert rows["q@example.org"].skip_reason is SkipReason.QUIET
    assert rows["a@example.org"].email == "A@example.org"  # as delivered; the key is lower-cased


def test_a_skip_reason_is_read_from_the_reply_not_guessed() -> None:
    assert SkipReason.of("unsubscribed during the run (unsubscribed)") is SkipReason.SUPPRESSED_DURING_RUN
    assert SkipReason.of("suppressed (hard-bounce)") is None
    assert SkipReason.of("quiet month: no items in the chosen themes, or so") is None
