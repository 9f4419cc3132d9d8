"""The bounces received: recording each once, matching it to a run, counting soft-bounce streaks.

audience/bounces.py reads the mailbox and decides; this module stores what it found and answers
its questions (which run and address a Message-ID belongs to, how many runs in a row an
address soft-bounced), so a mailbox imported twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.addresses import address_key
from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction

__all__ = [
    "Bounce",
    "bounce_counts",
    "consecutive_soft_bounces",
    "delivered_since",
    "recipient_for_message_id",
    "record_bounce",
    "run_addresses",
    "run_slug",
    "was_mailed",
]


@dataclass(frozen=True)
class Bounce:
    """One failed delivery reported back by a mail server (a DSN or a plain-text bounce)."""

    key: str  # unique per bounce message and recipient, so importing a mailbox twice is harmless
    email: str
    kind: str  # hard (5.x.x) | soft (4.x.x)
    status: str  # enhanced status code, e.g. 5.1.1
    diagnostic: str
    received: str  # when the bounce was written (its Date header), ISO 8601 UTC
    run_id: int | None = None


def record_bounce(db: Db, bounce: Bounce) -> bool:
    """Store a bounce; False if this bounce (same key) was imported before."""
    with transaction(db):
        cur = db.execute(
            "INSERT INTO bounces (key, email, run_id, kind, status, diagnostic, received, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (bounce.key, address_key(bounce.email), bounce.run_id, bounce.kind, bounce.status,
             bounce.diagnostic, bounce.received, now()),
        )
    return cur.rowcount == 1


def recipient_for_message_id(db: Db, message_id: str) -> tuple[int, str] | None:
    """(run id, address) of the message `send` gave this Message-ID, with or without <>."""
    bare = message_id.strip().strip("<>")
    if not bare:
        return None
    row = db.execute("SELECT run_id, email FROM recipients WHERE message_id IN (?, ?) LIMIT 1",
                     (bare, f"<{bare}>")).fetchone()
    return None if row is None else (row[0], row[1])


def run_addresses(db: Db, run_id: int) -> list[str]:
    """Every address a run planned to mail: the candidates a VERP token of that run can name."""
    return [row[0] for row in db.execute("SELECT email FROM recipients WHERE run_id = ?", (run_id,))]


def run_slug(db: Db, run_id: int) -> str | None:
    """The issue a run sent (`2023-07`), for reports."""
    row = db.execute("SELECT slug FROM runs WHERE id = ?", (run_id,)).fetchone()
    return None if row is None else row[0]


def consecutive_soft_bounces(db: Db, email: str) -> int:
    """The current streak: runs soft-bounced in a row, back from the newest soft-bounced one.

    A run in between that `send` delivered to the address and that no bounce came back
    for ends the streak. Runs newer than the newest bounce do not count either way yet:
    their bounce may still be on its way (servers retry for days before giving up).
    """
    email = address_key(email)
    newest = db.execute("SELECT MAX(run_id) FROM bounces WHERE email = ? AND kind = 'soft'", (email,)).fetchone()[0]
    clean = db.execute(
        "SELECT MAX(r.run_id) FROM recipients r WHERE r.email = ? AND r.state = 'sent' AND r.run_id < ? "
        "AND NOT EXISTS (SELECT 1 FROM bounces b WHERE b.email = r.email AND b.run_id = r.run_id)",
        (email, newest if newest is not None else 0),
    ).fetchone()[0]
    row = db.execute(
        "SELECT COUNT(DISTINCT COALESCE('run:' || run_id, 'key:' || key)) FROM bounces "
        "WHERE email = ? AND kind = 'soft' AND (run_id IS NULL OR run_id > ?)",
        (email, clean or 0),
    ).fetchone()
    return int(row[0])


def delivered_since(db: Db, email: str, run_id: int, *, before: str) -> bool:
    """Whether a run newer than `run_id` delivered to the address before `before` (ISO UTC)
    and no bounce came back for it: then a bounce about `run_id` is a replay or old news."""
    row = db.execute(
        "SELECT 1 FROM recipients r WHERE r.email = ? AND r.state = 'sent' AND r.run_id > ? AND r.updated <= ? "
        "AND NOT EXISTS (SELECT 1 FROM bounces b WHERE b.email = r.email AND b.run_id = r.run_id) LIMIT 1",
        (address_key(email), run_id, before),
    ).fetchone()
    return row is not None


def was_mailed(db: Db, email: str) -> bool:
    """Whether any run ever delivered to the address (a mailto request from it is a subscriber's)."""
    row = db.execute("SELECT 1 FROM recipients WHERE email = ? AND state = 'sent' LIMIT 1",
                     (address_key(email),)).fetchone()
    return row is not None


def bounce_counts(db: Db, run_id: int | None = None) -> dict[str, int]:
    """Distinct bounced addresses by kind, for one run or (run_id None) overall."""
    where, args = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
    counts = {"hard": 0, "soft": 0}
    for kind, count in db.execute(
        f"SELECT kind, COUNT(DISTINCT email) FROM bounces {where} GROUP BY kind", args
    ):
        counts[kind] = count
    return counts
