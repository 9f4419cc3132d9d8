"""Send runs and their recipients: one run per issue, one row per recipient in one state.

pending -> sending -> sent | deferred | failed, or skipped (excluded, with the reason in
`reply`). `sending` is written (committed) before a message goes out and `sent` only
after the server's 250, so rows left in `sending` by a crash are exactly the messages
that may have been delivered without being recorded: the only possible duplicates.

An issue has at most two runs, told apart by `kind`: the `real` one (through a relay,
loopback included), which never mails anyone twice, and a `rehearsal` (into the embedded
outbox), which counts nobody as sent for the real one and starts afresh once finished.
A `sent` row records the `relay` (host:port) that accepted it: a real run may resume
through another relay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction
from newsletter.journal.states import RecipientState, RunKind, SkipReason

__all__ = [
    "RECIPIENT_STATES",
    "SUPPRESSED_DURING_RUN",
    "NewRecipient",
    "Outcome",
    "RecipientRow",
    "Run",
    "apply_plan",
    "checkpoint",
    "finish_run",
    "get_run",
    "list_runs",
    "open_run",
    "recipient_states",
    "recover_in_flight",
    "relay_counts",
    "restart_run",
    "retry_failed",
    "run_counts",
    "run_recipients",
]

RECIPIENT_STATES = tuple(RecipientState)


@dataclass(frozen=True)
class Run:
    id: int
    slug: str
    subject: str
    digest: str  # hash of the compiled message, to notice an issue changed mid-run
    subscribers: str  # the CSV the run was last planned from
    created: str
    updated: str
    finished: str | None
    kind: RunKind = RunKind.REAL

    @property
    def rehearsal(self) -> bool:
        return self.kind is RunKind.REHEARSAL


@dataclass(frozen=True)
class RecipientRow:
    key: str  # the address key (`addresses.address_key`); the `email` column
    email: str  # the address as delivered; the `address` column
    name: str
    themes: tuple[str, ...] | None
    state: RecipientState
    attempts: int
    reply: str
    message_id: str
    possible_duplicate: bool
    relay: str = ""  # host:port that accepted the message ("" until sent)

    @property
    def skip_reason(self) -> SkipReason | None:
        """Why a skipped row was skipped, when it is one of the fixed reasons."""
        return SkipReason.of(self.reply) if self.state is RecipientState.SKIPPED else None


@dataclass(frozen=True)
class NewRecipient:
    key: str  # the address key
    email: str  # as delivered
    name: str
    themes: tuple[str, ...] | None
    state: RecipientState  # pending or skipped
    reply: str  # the reason when skipped (a `SkipReason`, or `suppressed (<reason>)`)
    message_id: str
    language: str = ""  # the language version planned ("" = the config's `language`)


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed recipient, to be recorded in the next checkpoint."""

    key: str  # the address key
    state: RecipientState  # sent | deferred | failed | pending (handed back unsent) | skipped
    reply: str = ""
    possible_duplicate: bool = False  # the connection broke after the message went out
    relay: str = ""  # sent: the host:port that accepted it


_RECIPIENT_COLUMNS = "email, address, name, themes, state, attempts, reply, message_id, possible_duplicate, relay"


def _themes_text(themes: tuple[str, ...] | None) -> str | None:
    return None if themes is None else "\n".join(themes)


def _recipient(row: Sequence[Any]) -> RecipientRow:
    key, email, name, themes, state, attempts, reply, message_id, dup, relay = tuple(row)
    return RecipientRow(key, email or key, name, None if themes is None else tuple(themes.split("\n")),
                        RecipientState(state), attempts, reply, message_id, bool(dup), relay)


def _run(row: Sequence[Any] | None) -> Run | None:
    if row is None:
        return None
    id_, slug, subject, digest, subscribers, created, updated, finished, kind = tuple(row)
    return Run(id_, slug, subject, digest, subscribers, created, updated, finished, RunKind(kind))


_RUN_COLUMNS = "id, slug, subject, digest, subscribers, created, updated, finished, kind"


def get_run(db: Db, slug: str, kind: RunKind = RunKind.REAL) -> Run | None:
    return _run(db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE slug = ? AND kind = ?", (slug, kind)).fetchone())


def list_runs(db: Db) -> list[Run]:
    """Every run, oldest first; an issue's real run before its rehearsal."""
    return [run for r in db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created, slug, kind")
            if (run := _run(r)) is not None]


def open_run(db: Db, slug: str, *, subject: str, digest: str, subscribers: str,
             kind: RunKind = RunKind.REAL) -> Run:
    """The run of this kind for `slug`, created on first use; later calls record the current digest and CSV."""
    stamp = now()
    with transaction(db):
        db.execute(
            "INSERT INTO runs (slug, kind, subject, digest, subscribers, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (slug, kind) DO UPDATE SET subject = excluded.subject, digest = excluded.digest, "
            "subscribers = excluded.subscribers, updated = excluded.updated, finished = NULL",
            (slug, kind, subject, digest, subscribers, stamp, stamp),
        )
    run = get_run(db, slug, kind)
    assert run is not None
    return run


def restart_run(db: Db, run_id: int) -> None:
    """A finished rehearsal, emptied to be rehearsed again (a real run is never restarted).

    Its bounces, if any were imported, are kept, no longer tied to the run."""
    stamp = now()
    with transaction(db):
        kind = db.execute("SELECT kind FROM runs WHERE id = ?", (run_id,)).fetchone()
        if kind is None or kind[0] != RunKind.REHEARSAL:
            raise ValueError(f"run {run_id} is not a rehearsal")
        db.execute("UPDATE bounces SET run_id = NULL WHERE run_id = ?", (run_id,))
        db.execute("DELETE FROM recipients WHERE run_id = ?", (run_id,))
        db.execute("UPDATE runs SET created = ?, updated = ?, finished = NULL WHERE id = ?", (stamp, stamp, run_id))


def relay_counts(db: Db, run_id: int) -> dict[str, int]:
    """host:port -> recipients it accepted in this run ("" for rows sent before relays were recorded)."""
    return {row[0]: int(row[1]) for row in db.execute(
        "SELECT relay, COUNT(*) FROM recipients WHERE run_id = ? AND state = 'sent' "
        "GROUP BY relay ORDER BY COUNT(*) DESC", (run_id,)).fetchall()}


def finish_run(db: Db, run_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE runs SET finished = ?, updated = ? WHERE id = ?", (now(), now(), run_id))


def recipient_states(db: Db, run_id: int) -> dict[str, str]:
    """address key -> state for every recipient already in the run (planning a resume)."""
    return dict(db.execute("SELECT email, state FROM recipients WHERE run_id = ?", (run_id,)).fetchall())


def recover_in_flight(db: Db, run_id: int) -> int:
    """Rows a crash left in `sending` go back to pending, flagged as possible duplicates."""
    with transaction(db):
        cur = db.execute(
            "UPDATE recipients SET state = 'pending', possible_duplicate = 1, updated = ?, "
            "reply = 'in flight when a previous run stopped' WHERE run_id = ? AND state = 'sending'",
            (now(), run_id),
        )
    return cur.rowcount


def retry_failed(db: Db, run_id: int) -> int:
    """Failed recipients back to pending (after fixing what made the server refuse them)."""
    with transaction(db):
        cur = db.execute("UPDATE recipients SET state = 'pending', updated = ? WHERE run_id = ? AND state = 'failed'",
                         (now(), run_id))
    return cur.rowcount


def apply_plan(db: Db, run_id: int, *, new: Iterable[NewRecipient],
               wanted: Iterable[tuple[str, str, str, tuple[str, ...] | None]],
               skip: Iterable[tuple[str, str]]) -> None:
    """Bring the run in line with the subscriber list, in one transaction.

    `new` rows are inserted; `wanted` (key, email, name, themes) rows that exist and are
    not sent, failed or in flight become pending with the list's current name and themes;
    `skip` (key, reason) rows that are still pending or deferred become skipped.
    """
    stamp = now()
    with transaction(db):
        db.insert_many(
            "recipients", ("run_id", "email", "address", "name", "themes", "state", "reply", "message_id", "updated",
                           "language"),
            ((run_id, r.key, r.email, r.name, _themes_text(r.themes), r.state, r.reply, r.message_id, stamp,
              r.language or None) for r in new),
        )
        db.executemany(
            "UPDATE recipients SET state = 'pending', address = ?, name = ?, themes = ?, updated = ?, "
            "reply = CASE WHEN state = 'skipped' THEN '' ELSE reply END "
            "WHERE run_id = ? AND email = ? AND state IN ('pending', 'deferred', 'skipped')",
            ((email, name, _themes_text(themes), stamp, run_id, key) for key, email, name, themes in wanted),
        )
        db.executemany(
            "UPDATE recipients SET state = 'skipped', reply = ?, updated = ? "
            "WHERE run_id = ? AND email = ? AND state IN ('pending', 'deferred', 'skipped')",
            ((reason, stamp, run_id, key) for key, reason in skip),
        )


SUPPRESSED_DURING_RUN = SkipReason.SUPPRESSED_DURING_RUN

# A claim takes pending rows no other claim holds: SQLite's one write lock serialises
# claims; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets claims from several processes run at
# once without ever taking the same row. It re-reads the suppression list row by row, in
# the same transaction: an opt-out
# committed a moment ago (one-click, `suppress import`, a bounce import) turns the claim
# into `skipped` instead of `sending`, so that address is never handed to a connection.
_SUPPRESSED = "EXISTS (SELECT 1 FROM suppressions s WHERE s.email = recipients.email)"
_CLAIM = (
    f"UPDATE recipients SET "
    f"state = CASE WHEN {_SUPPRESSED} THEN 'skipped' ELSE 'sending' END, "
    f"reply = CASE WHEN {_SUPPRESSED} THEN '{SUPPRESSED_DURING_RUN} (' || "
    f"(SELECT reason FROM suppressions s WHERE s.email = recipients.email) || ')' ELSE reply END, "
    f"attempts = attempts + CASE WHEN {_SUPPRESSED} THEN 0 ELSE 1 END, updated = ? "
)


def checkpoint(db: Db, run_id: int, outcomes: Iterable[Outcome], *,
               claim: int = 0, reclaim: Sequence[str] = ()) -> list[RecipientRow]:
    """Record outcomes and claim the next recipients, in one short transaction.

    Claimed rows (the `reclaim` addresses, then up to `claim` pending ones in list order)
    are `sending` once this returns: committed before any of them goes out. A claimed
    address on the suppression list comes back `skipped` instead (reply starting with
    SUPPRESSED_DURING_RUN), and counts toward `claim` so the caller sees the list move on.
    """
    stamp = now()
    # As durable as SQLite's WAL at synchronous=NORMAL makes it (what the SQLite state has
    # always done): committed before anything goes out, so the sender crashing (kill -9)
    # loses nothing; only a crash of the database host itself (power, kernel, `pg_ctl -m
    # immediate`) may lose the last fraction of a second (docs/explanation/how-it-works.md).
    with db.transaction(durable=False, pipelined=True):
        db.executemany(
            "UPDATE recipients SET state = ?, reply = ?, updated = ?, "
            "possible_duplicate = CASE WHEN ? = 1 THEN 1 ELSE possible_duplicate END, "
            "relay = CASE WHEN ? = '' THEN relay ELSE ? END WHERE run_id = ? AND email = ?",
            ((o.state, o.reply, stamp, int(o.possible_duplicate), o.relay, o.relay, run_id, o.key)
             for o in outcomes),
        )
        rows = []
        for key in reclaim:
            rows += db.execute(
                f"{_CLAIM} WHERE run_id = ? AND email = ? RETURNING {_RECIPIENT_COLUMNS}",
                (stamp, run_id, key),
            ).fetchall()
        if claim > 0:  # RETURNING comes in no set order: put the claim back in list order
            claimed = db.execute(
                f"{_CLAIM} WHERE rowid IN (SELECT rowid FROM recipients WHERE run_id = ? AND state = 'pending' "
                f"ORDER BY rowid LIMIT ?{db.skip_locked}) RETURNING rowid, {_RECIPIENT_COLUMNS}",
                (stamp, run_id, claim),
            ).fetchall()
            rows += [tuple(row)[1:] for row in sorted(claimed, key=lambda row: row[0])]
    return [_recipient(r) for r in rows]


def run_counts(db: Db, run_id: int) -> dict[str, int]:
    """Recipients per state (every state present, zero when empty), plus `possible_duplicates`."""
    counts: dict[str, int] = dict.fromkeys(RECIPIENT_STATES, 0)
    for state, count in db.execute("SELECT state, COUNT(*) FROM recipients WHERE run_id = ? GROUP BY state",
                                   (run_id,)):
        counts[state] = count
    counts["possible_duplicates"] = db.execute(
        "SELECT COUNT(*) FROM recipients WHERE run_id = ? AND possible_duplicate = 1", (run_id,)).fetchone()[0]
    return counts


def run_recipients(db: Db, run_id: int, states: Iterable[str] = RECIPIENT_STATES) -> list[RecipientRow]:
    """The run's recipients in the given states, in list order (e.g. failures for a report)."""
    states = tuple(states)
    marks = ", ".join("?" * len(states))
    rows = db.execute(f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE run_id = ? AND state IN ({marks}) "
                      "ORDER BY rowid", (run_id, *states))
    return [_recipient(r) for r in rows]
