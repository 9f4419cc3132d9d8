"""The numbered schema: a state file from the last release opens, upgrades in place and
keeps every row; a newer state and a migration kept for `state upgrade` are refused with
advice; state files are private to their owner."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from newsletter import journal
from newsletter.errors import NewsletterError
from newsletter.journal import schema

# Written by the release before numbered schemas (main at 60f46b6): one run of six recipients
# (sent, failed, one in flight, pending, skipped), suppressions, topics, a bounce, the feed
# cache, collected keys, a link check, a confirmed and a pending sign-up.
RELEASE_STATE = Path(__file__).resolve().parents[1] / "data" / "state-release-0.state"


@pytest.fixture
def old_state(tmp_path: Path) -> Path:
    path = tmp_path / "newsletter.db"
    shutil.copy(RELEASE_STATE, path)
    path.chmod(0o644)  # as that release made them
    return path


def test_a_state_file_from_the_last_release_upgrades_in_place_and_keeps_every_row(old_state: Path) -> None:
    before = journal.connect(old_state, migrate=False)
    assert journal.schema_version(before) == 0
    counts = journal.row_counts(before)
    before.close()
    db = journal.connect(old_state)
    assert journal.schema_version(db) == journal.LATEST
    after = journal.row_counts(db)
    assert {t: after[t] for t in counts} == counts and set(after) == set(schema.TABLES)
    assert [e.event for e in journal.consent_events(db, "new@example.org")] == ["confirmed"]  # carried over
    run = journal.get_run(db, "2023-07")
    assert run is not None and run.subject == "Digest: July 2023"
    assert journal.run_counts(db, run.id) == {"pending": 2, "sending": 1, "sent": 1, "deferred": 0, "failed": 1,
                                              "skipped": 1, "possible_duplicates": 1}
    assert journal.recover_in_flight(db, run.id) == 1  # the send resumes it as it would have
    assert journal.get_preferences(db, "reader1@example.org") == ["Neglect", "Online safety"]
    assert journal.is_suppressed(db, "hard@example.org")
    cache = journal.get_feed_cache(db, "https://example.org/feed")
    assert cache is not None and cache.body == b"<rss>\x00\xff</rss>"
    assert [s.email for s in journal.confirmed_signups(db)] == ["new@example.org"]
    assert stat.S_IMODE(old_state.stat().st_mode) == 0o600  # and it is private from now on


def test_a_new_state_file_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    db = journal.connect(path)
    journal.suppress(db, "a@example.org", "manual")
    for name in ("newsletter.db", "newsletter.db-wal", "newsletter.db-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    db.close()


def test_a_state_newer_than_this_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    journal.connect(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("INSERT INTO schema_migrations (version, name, applied) VALUES (?, 'from the future', '')",
                    (journal.LATEST + 1,))
    with pytest.raises(NewsletterError, match="newer than this newsletter knows"):
        journal.connect(path)


def test_a_migration_kept_for_state_upgrade_is_refused_on_open_then_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "newsletter.db"
    journal.connect(path).close()
    later = (journal.Migration(journal.LATEST + 1, "a column", "ALTER TABLE runs ADD COLUMN note TEXT"),
             journal.Migration(journal.LATEST + 2, "a long rewrite", "UPDATE runs SET note = ''", automatic=False))
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + later)
    monkeypatch.setattr(schema, "LATEST", journal.LATEST + 2)
    with pytest.raises(NewsletterError, match="newsletter state upgrade"):
        journal.connect(path)
    db = journal.connect(path, migrate=False)
    assert journal.schema_version(db) == journal.LATEST  # nothing half-done: one transaction
    assert [m.number for m in journal.upgrade(db, automatic=False)] == [journal.LATEST + 1, journal.LATEST + 2]
    assert journal.schema_version(db) == journal.LATEST + 2


# Written by the release with rehearsals and append-only consent, before numbered schemas
# (main at 9d93e51): `runs.kind` and `recipients.relay` already there (its own table
# rebuild), the consent tables too; a real run (two sent, one in flight), a finished
# rehearsal, a confirmed and a pending sign-up request, an unsubscribe in the history.
RELEASE_STATE_KINDS = Path(__file__).resolve().parents[1] / "data" / "state-release-1.state"


def test_a_state_file_that_already_tells_rehearsals_apart_upgrades_without_a_change(tmp_path: Path) -> None:
    path = tmp_path / "newsletter.db"
    shutil.copy(RELEASE_STATE_KINDS, path)
    before = journal.connect(path, migrate=False)
    assert journal.schema_version(before) == 0
    counts = journal.row_counts(before)
    before.close()
    db = journal.connect(path)
    after = journal.row_counts(db)
    assert journal.schema_version(db) == journal.LATEST and {t: after[t] for t in counts} == counts
    real, rehearsal = journal.get_run(db, "2023-07"), journal.get_run(db, "2023-08", journal.RunKind.REHEARSAL)
    assert real is not None and not real.rehearsal and journal.relay_counts(db, real.id) == {"smtp.example.org:587": 2}
    assert rehearsal is not None and rehearsal.finished and journal.get_run(db, "2023-08") is None
    assert [e.event for e in journal.consent_events(db, "new@example.org")] == ["confirmed"]  # not carried twice
    assert not journal.use_stamp(db, "stamp-1", at=1000.0)  # spent before the upgrade, still spent
    db.close()


def _at_version_1(db: journal.Db) -> None:
    """A state as the first numbered release left it: migration 1 only."""
    with db.transaction():
        db.execute(schema._VERSIONS)
        for statement in schema.statements(schema.MIGRATIONS[0], db.dialect):
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations (version, name, applied) VALUES (1, 'first', '')")


@pytest.mark.usefixtures("backend")
def test_runs_from_before_kinds_become_rehearsals_only_when_everything_went_to_the_outbox(tmp_path: Path) -> None:
    import os

    db = journal.connect(os.environ.get("NEWSLETTER_STATE") or tmp_path / "newsletter.db", migrate=False)
    _at_version_1(db)
    with db.transaction():
        for slug, reply in (("2023-06", "250 2.0.0 OK: filed in the local outbox"),
                            ("2023-07", "250 2.0.0 Ok: queued as 4F2")):
            (run_id,) = db.execute("INSERT INTO runs (slug, created) VALUES (?, '2023-08-01') RETURNING id",
                                   (slug,)).fetchone()
            db.execute("INSERT INTO recipients (run_id, email, state, reply, updated) "
                       "VALUES (?, 'a@example.org', 'sent', ?, '')", (run_id, reply))
    assert [m.number for m in journal.upgrade(db)] == list(range(2, journal.LATEST + 1))
    june = journal.get_run(db, "2023-06", journal.RunKind.REHEARSAL)
    assert june is not None and journal.get_run(db, "2023-06") is None
    july = journal.get_run(db, "2023-07")
    assert july is not None and journal.relay_counts(db, july.id) == {"": 1}  # still sent: never mailed twice
    real_june = journal.open_run(db, "2023-06", subject="June", digest="", subscribers="")  # (slug, kind) is unique
    assert real_june.id not in (june.id, july.id) and not real_june.rehearsal
    assert journal.upgrade(db) == []
    db.close()
