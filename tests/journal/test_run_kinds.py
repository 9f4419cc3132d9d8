"""Run kinds (issue 26): a rehearsal and the real run of one issue live apart in the journal,
and a state file from before they were told apart is upgraded in place, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from newsletter import journal

OLD_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY, slug TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL DEFAULT '', subscribers TEXT NOT NULL DEFAULT '', created TEXT NOT NULL,
    updated TEXT NOT NULL DEFAULT '', finished TEXT, UNIQUE (slug));
CREATE TABLE recipients (run_id INTEGER NOT NULL REFERENCES runs(id), email TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '', themes TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending','sending','sent','deferred','failed','skipped')),
    attempts INTEGER NOT NULL DEFAULT 0, reply TEXT NOT NULL DEFAULT '', message_id TEXT NOT NULL DEFAULT '',
    possible_duplicate INTEGER NOT NULL DEFAULT 0, updated TEXT NOT NULL, PRIMARY KEY (run_id, email));
INSERT INTO runs VALUES (1, '2023-06', 'June', '', '', '2023-07-01', '', '2023-07-01');
INSERT INTO runs VALUES (2, '2023-07', 'July', '', '', '2023-08-01', '', '2023-08-01');
INSERT INTO recipients VALUES (1, 'a@example.org', '', '', NULL, 'sent', 1,
    '250 2.0.0 OK: filed in the local outbox', '<1@x>', 0, '');
INSERT INTO recipients VALUES (2, 'a@example.org', '', '', NULL, 'sent', 1, '250 2.0.0 Ok: queued as 4F2', '<2@x>', 0, '');
"""


def test_an_old_state_file_keeps_its_runs_and_only_outbox_runs_become_rehearsals(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_SCHEMA)
    db = journal.connect(path)
    try:
        june, july = journal.get_run(db, "2023-06", journal.RunKind.REHEARSAL), journal.get_run(db, "2023-07")
        assert june is not None and june.rehearsal and journal.get_run(db, "2023-06") is None
        assert july is not None and not july.rehearsal and july.finished == "2023-08-01"
        assert journal.run_counts(db, july.id)["sent"] == 1  # the real run still never mails anyone twice
        assert journal.relay_counts(db, july.id) == {"": 1}
        real = journal.open_run(db, "2023-06", subject="June", digest="", subscribers="")
        assert real.id != june.id and not real.rehearsal  # June can now be sent for real
    finally:
        db.close()
    again = journal.connect(path)  # a second open changes nothing
    assert [(r.slug, r.kind) for r in journal.list_runs(again)] == [
        ("2023-06", "rehearsal"), ("2023-07", "real"), ("2023-06", "real")]
    again.close()


def test_a_finished_rehearsal_starts_afresh_and_a_real_run_cannot_be_restarted(tmp_path: Path) -> None:
    db = journal.connect(tmp_path / "state.sqlite")
    rehearsal = journal.open_run(db, "2023-07", subject="July", digest="", subscribers="", kind=journal.RunKind.REHEARSAL)
    journal.apply_plan(db, rehearsal.id, new=[journal.NewRecipient("a@example.org", "a@example.org", "", None,
                                                                   "pending", "", "<1@x>")], wanted=[], skip=[])
    journal.checkpoint(db, rehearsal.id, [], claim=1)
    journal.checkpoint(db, rehearsal.id, [journal.Outcome("a@example.org", "sent", "250 ok", relay="outbox")])
    journal.finish_run(db, rehearsal.id)
    journal.restart_run(db, rehearsal.id)
    assert journal.recipient_states(db, rehearsal.id) == {}
    real = journal.open_run(db, "2023-07", subject="July", digest="", subscribers="")
    with pytest.raises(ValueError):
        journal.restart_run(db, real.id)
    db.close()
