"""The state file (SQLite): send runs, per-recipient state, suppressions, preferences.

Only this module speaks SQL. The file is opened in WAL mode with a busy timeout so the
unsubscribe server can write while `send` runs; every write is a short transaction.
Addresses are stored lower-cased and trimmed, so lookups ignore case.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import NewsletterError

__all__ = [
    "connect",
    "transaction",
    "normalise_email",
    "Suppression",
    "suppress",
    "unsuppress",
    "is_suppressed",
    "suppressed_addresses",
    "list_suppressions",
    "get_preferences",
    "set_preferences",
    "all_preferences",
    "latest_recipient_themes",
    "Bounce",
    "record_bounce",
    "recipient_for_message_id",
    "latest_sent_run",
    "run_id_for_slug",
    "consecutive_soft_bounces",
    "bounce_counts",
    "FeedCache",
    "get_feed_cache",
    "put_feed_cache",
    "collected_keys",
    "record_collected",
    "CachedLink",
    "get_link_checks",
    "put_link_checks",
    "RECIPIENT_STATES",
    "Run",
    "RecipientRow",
    "NewRecipient",
    "Outcome",
    "get_run",
    "list_runs",
    "open_run",
    "finish_run",
    "recipient_states",
    "recover_in_flight",
    "retry_failed",
    "apply_plan",
    "checkpoint",
    "run_counts",
    "run_recipients",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL DEFAULT '',
    subscribers TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL DEFAULT '',
    finished TEXT,
    UNIQUE (slug)
);
CREATE TABLE IF NOT EXISTS recipients (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    email TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    themes TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending','sending','sent','deferred','failed','skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    reply TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
    possible_duplicate INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL,
    PRIMARY KEY (run_id, email)
);
CREATE INDEX IF NOT EXISTS recipients_state ON recipients (run_id, state);
CREATE INDEX IF NOT EXISTS recipients_message_id ON recipients (message_id);
CREATE TABLE IF NOT EXISTS suppressions (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS preferences (
    email TEXT PRIMARY KEY,
    themes TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bounces (
    key TEXT PRIMARY KEY,          -- bounce Message-ID (or digest) + recipient: re-import is a no-op
    email TEXT NOT NULL,
    run_id INTEGER REFERENCES runs(id),
    kind TEXT NOT NULL CHECK (kind IN ('hard','soft')),
    status TEXT NOT NULL DEFAULT '',
    diagnostic TEXT NOT NULL DEFAULT '',
    received TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bounces_email ON bounces (email);
CREATE INDEX IF NOT EXISTS bounces_run ON bounces (run_id, kind);
CREATE TABLE IF NOT EXISTS feed_cache (
    url TEXT PRIMARY KEY,
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    content_type TEXT NOT NULL DEFAULT '',
    body BLOB NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collected (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL DEFAULT '',
    file TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS link_checks (
    url TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    final_url TEXT NOT NULL DEFAULT '',
    redirects TEXT NOT NULL DEFAULT '',
    checked TEXT NOT NULL
);
"""


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state file; autocommit, WAL, waits on locks."""
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        db.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise NewsletterError(f"cannot open the state file: {exc}", path=path,
                              hint="is it a newsletter state file? move it aside to start afresh") from exc
    db.row_factory = sqlite3.Row
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front, roll back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@dataclass(frozen=True)
class Suppression:
    email: str
    reason: str  # unsubscribed | hard-bounce | soft-bounces | manual | imported
    source: str  # one-click | web | mailto | csv:FILE | smtp:550 ...
    created: str


def suppress(db: sqlite3.Connection, email: str, reason: str, source: str = "") -> bool:
    """Add an address to the suppression list; False if it was already there (kept as is)."""
    with transaction(db):
        cur = db.execute(
            "INSERT OR IGNORE INTO suppressions (email, reason, source, created) VALUES (?, ?, ?, ?)",
            (normalise_email(email), reason, source, now()),
        )
    return cur.rowcount == 1


def suppress_many(db: sqlite3.Connection, rows: Iterable[tuple[str, str, str]]) -> int:
    """(email, reason, source) rows in one transaction; returns how many were new."""
    stamp = now()
    added = 0
    with transaction(db):
        for email, reason, source in rows:
            cur = db.execute(
                "INSERT OR IGNORE INTO suppressions (email, reason, source, created) VALUES (?, ?, ?, ?)",
                (normalise_email(email), reason, source, stamp),
            )
            added += cur.rowcount
    return added


def unsuppress(db: sqlite3.Connection, email: str) -> bool:
    with transaction(db):
        cur = db.execute("DELETE FROM suppressions WHERE email = ?", (normalise_email(email),))
    return cur.rowcount == 1


def is_suppressed(db: sqlite3.Connection, email: str) -> bool:
    row = db.execute("SELECT 1 FROM suppressions WHERE email = ?", (normalise_email(email),)).fetchone()
    return row is not None


def suppressed_addresses(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT email FROM suppressions")}


def list_suppressions(db: sqlite3.Connection) -> list[Suppression]:
    rows = db.execute("SELECT email, reason, source, created FROM suppressions ORDER BY created, email")
    return [Suppression(*row) for row in rows]


def get_preferences(db: sqlite3.Connection, email: str) -> list[str] | None:
    """The themes a subscriber chose on the preferences page, or None if never chosen."""
    row = db.execute("SELECT themes FROM preferences WHERE email = ?", (normalise_email(email),)).fetchone()
    return None if row is None else [t for t in row[0].split("\n") if t]


def set_preferences(db: sqlite3.Connection, email: str, themes: list[str]) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO preferences (email, themes, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (email) DO UPDATE SET themes = excluded.themes, updated = excluded.updated",
            (normalise_email(email), "\n".join(themes), now()),
        )


def all_preferences(db: sqlite3.Connection) -> dict[str, list[str]]:
    return {row[0]: [t for t in row[1].split("\n") if t]
            for row in db.execute("SELECT email, themes FROM preferences")}


def latest_recipient_themes(db: sqlite3.Connection, email: str) -> tuple[str, ...] | None:
    """The themes the newest run planned for this address (from the CSV); None = all, or none yet."""
    row = db.execute("SELECT themes FROM recipients WHERE email = ? ORDER BY run_id DESC LIMIT 1",
                     (normalise_email(email),)).fetchone()
    return None if row is None or row[0] is None else tuple(t for t in row[0].split("\n") if t)


@dataclass(frozen=True)
class FeedCache:
    """What `collect` last downloaded from a feed: validators for a conditional GET, and
    the body itself, so a 304 can be re-read for a different date range."""

    url: str
    etag: str
    last_modified: str
    content_type: str
    body: bytes


def get_feed_cache(db: sqlite3.Connection, url: str) -> FeedCache | None:
    row = db.execute("SELECT url, etag, last_modified, content_type, body FROM feed_cache WHERE url = ?",
                     (url,)).fetchone()
    return None if row is None else FeedCache(row[0], row[1], row[2], row[3], bytes(row[4]))


def put_feed_cache(db: sqlite3.Connection, cache: FeedCache) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO feed_cache (url, etag, last_modified, content_type, body, updated) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, content_type = excluded.content_type, "
            "body = excluded.body, updated = excluded.updated",
            (cache.url, cache.etag, cache.last_modified, cache.content_type, cache.body, now()),
        )


def collected_keys(db: sqlite3.Connection) -> set[str]:
    """Every guid/link key `collect` has written an item for, even if the file is gone."""
    return {row[0] for row in db.execute("SELECT key FROM collected")}


def record_collected(db: sqlite3.Connection, keys: Iterable[str], *, source: str, file: str) -> None:
    with transaction(db):
        db.executemany(
            "INSERT OR IGNORE INTO collected (key, source, file, created) VALUES (?, ?, ?, ?)",
            [(key, source, file, now()) for key in keys],
        )


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


def record_bounce(db: sqlite3.Connection, bounce: Bounce) -> bool:
    """Store a bounce; False if this bounce (same key) was imported before."""
    with transaction(db):
        cur = db.execute(
            "INSERT OR IGNORE INTO bounces (key, email, run_id, kind, status, diagnostic, received, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (bounce.key, normalise_email(bounce.email), bounce.run_id, bounce.kind, bounce.status,
             bounce.diagnostic, bounce.received, now()),
        )
    return cur.rowcount == 1


def recipient_for_message_id(db: sqlite3.Connection, message_id: str) -> tuple[int, str] | None:
    """(run id, address) of the message `send` gave this Message-ID, with or without <>."""
    bare = message_id.strip().strip("<>")
    if not bare:
        return None
    row = db.execute("SELECT run_id, email FROM recipients WHERE message_id IN (?, ?) LIMIT 1",
                     (bare, f"<{bare}>")).fetchone()
    return None if row is None else (row[0], row[1])


def latest_sent_run(db: sqlite3.Connection, email: str) -> int | None:
    """The newest run that mailed this address (state sent), if any."""
    row = db.execute("SELECT MAX(run_id) FROM recipients WHERE email = ? AND state = 'sent'",
                     (normalise_email(email),)).fetchone()
    return row[0] if row else None


def run_id_for_slug(db: sqlite3.Connection, slug: str) -> int | None:
    row = db.execute("SELECT id FROM runs WHERE slug = ?", (slug,)).fetchone()
    return None if row is None else row[0]


def consecutive_soft_bounces(db: sqlite3.Connection, email: str) -> int:
    """The current streak: runs soft-bounced in a row, back from the newest soft-bounced one.

    A run in between that `send` delivered to the address and that no bounce came back
    for ends the streak. Runs newer than the newest bounce do not count either way yet:
    their bounce may still be on its way (servers retry for days before giving up).
    """
    email = normalise_email(email)
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


def bounce_counts(db: sqlite3.Connection, run_id: int | None = None) -> dict[str, int]:
    """Distinct bounced addresses by kind, for one run or (run_id None) overall."""
    where, args = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
    counts = {"hard": 0, "soft": 0}
    for kind, count in db.execute(
        f"SELECT kind, COUNT(DISTINCT email) FROM bounces {where} GROUP BY kind", args  # noqa: S608
    ):
        counts[kind] = count
    return counts


# --- Send runs and their recipients -------------------------------------------------
#
# One run per issue (slug). Every recipient of a run is one row in exactly one state:
# pending -> sending -> sent | deferred | failed, or skipped (excluded, with the reason in
# `reply`). `sending` is written (committed) before a message goes out and `sent` only
# after the server's 250, so rows left in `sending` by a crash are exactly the messages
# that may have been delivered without being recorded: the only possible duplicates.

RECIPIENT_STATES = ("pending", "sending", "sent", "deferred", "failed", "skipped")


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


@dataclass(frozen=True)
class RecipientRow:
    email: str  # lower-cased key
    address: str  # as delivered
    name: str
    themes: tuple[str, ...] | None
    state: str
    attempts: int
    reply: str
    message_id: str
    possible_duplicate: bool


@dataclass(frozen=True)
class NewRecipient:
    email: str
    address: str
    name: str
    themes: tuple[str, ...] | None
    state: str  # pending or skipped
    reply: str  # the reason when skipped
    message_id: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed recipient, to be recorded in the next checkpoint."""

    email: str
    state: str  # sent | deferred | failed | pending (handed back unsent)
    reply: str = ""
    possible_duplicate: bool = False  # the connection broke after the message went out


_RECIPIENT_COLUMNS = "email, address, name, themes, state, attempts, reply, message_id, possible_duplicate"


def _themes_text(themes: tuple[str, ...] | None) -> str | None:
    return None if themes is None else "\n".join(themes)


def _recipient(row: sqlite3.Row | tuple) -> RecipientRow:
    email, address, name, themes, state, attempts, reply, message_id, dup = tuple(row)
    return RecipientRow(email, address or email, name, None if themes is None else tuple(themes.split("\n")),
                        state, attempts, reply, message_id, bool(dup))


def _run(row: sqlite3.Row | tuple | None) -> Run | None:
    return None if row is None else Run(*tuple(row))


_RUN_COLUMNS = "id, slug, subject, digest, subscribers, created, updated, finished"


def get_run(db: sqlite3.Connection, slug: str) -> Run | None:
    return _run(db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE slug = ?", (slug,)).fetchone())


def list_runs(db: sqlite3.Connection) -> list[Run]:
    return [Run(*tuple(r)) for r in db.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created, slug")]


def open_run(db: sqlite3.Connection, slug: str, *, subject: str, digest: str, subscribers: str) -> Run:
    """The run for `slug`, created on first use; later calls record the current digest and CSV."""
    stamp = now()
    with transaction(db):
        db.execute(
            "INSERT INTO runs (slug, subject, digest, subscribers, created, updated) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (slug) DO UPDATE SET subject = excluded.subject, digest = excluded.digest, "
            "subscribers = excluded.subscribers, updated = excluded.updated, finished = NULL",
            (slug, subject, digest, subscribers, stamp, stamp),
        )
    run = get_run(db, slug)
    assert run is not None
    return run


def finish_run(db: sqlite3.Connection, run_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE runs SET finished = ?, updated = ? WHERE id = ?", (now(), now(), run_id))


def recipient_states(db: sqlite3.Connection, run_id: int) -> dict[str, str]:
    """email -> state for every recipient already in the run (planning a resume)."""
    return dict(db.execute("SELECT email, state FROM recipients WHERE run_id = ?", (run_id,)).fetchall())


def recover_in_flight(db: sqlite3.Connection, run_id: int) -> int:
    """Rows a crash left in `sending` go back to pending, flagged as possible duplicates."""
    with transaction(db):
        cur = db.execute(
            "UPDATE recipients SET state = 'pending', possible_duplicate = 1, updated = ?, "
            "reply = 'in flight when a previous run stopped' WHERE run_id = ? AND state = 'sending'",
            (now(), run_id),
        )
    return cur.rowcount


def retry_failed(db: sqlite3.Connection, run_id: int) -> int:
    """Failed recipients back to pending (after fixing what made the server refuse them)."""
    with transaction(db):
        cur = db.execute("UPDATE recipients SET state = 'pending', updated = ? WHERE run_id = ? AND state = 'failed'",
                         (now(), run_id))
    return cur.rowcount


def apply_plan(db: sqlite3.Connection, run_id: int, *, new: Iterable[NewRecipient],
               wanted: Iterable[tuple[str, str, str, tuple[str, ...] | None]],
               skip: Iterable[tuple[str, str]]) -> None:
    """Bring the run in line with the subscriber list, in one transaction.

    `new` rows are inserted; `wanted` (email, address, name, themes) rows that exist and are
    not sent, failed or in flight become pending with the list's current name and themes;
    `skip` (email, reason) rows that are still pending or deferred become skipped.
    """
    stamp = now()
    with transaction(db):
        db.executemany(
            "INSERT INTO recipients (run_id, email, address, name, themes, state, reply, message_id, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((run_id, r.email, r.address, r.name, _themes_text(r.themes), r.state, r.reply, r.message_id, stamp)
             for r in new),
        )
        db.executemany(
            "UPDATE recipients SET state = 'pending', address = ?, name = ?, themes = ?, updated = ?, "
            "reply = CASE WHEN state = 'skipped' THEN '' ELSE reply END "
            "WHERE run_id = ? AND email = ? AND state IN ('pending', 'deferred', 'skipped')",
            ((address, name, _themes_text(themes), stamp, run_id, email) for email, address, name, themes in wanted),
        )
        db.executemany(
            "UPDATE recipients SET state = 'skipped', reply = ?, updated = ? "
            "WHERE run_id = ? AND email = ? AND state IN ('pending', 'deferred', 'skipped')",
            ((reason, stamp, run_id, email) for email, reason in skip),
        )


def checkpoint(db: sqlite3.Connection, run_id: int, outcomes: Iterable[Outcome], *,
               claim: int = 0, reclaim: Iterable[str] = ()) -> list[RecipientRow]:
    """Record outcomes and claim the next recipients, in one short transaction.

    Claimed rows (the `reclaim` addresses, then up to `claim` pending ones in list order)
    are `sending` once this returns: committed before any of them goes out.
    """
    stamp = now()
    with transaction(db):
        db.executemany(
            "UPDATE recipients SET state = ?, reply = ?, updated = ?, "
            "possible_duplicate = MAX(possible_duplicate, ?) WHERE run_id = ? AND email = ?",
            ((o.state, o.reply, stamp, int(o.possible_duplicate), run_id, o.email) for o in outcomes),
        )
        rows = []
        for email in reclaim:
            rows += db.execute(
                f"UPDATE recipients SET state = 'sending', attempts = attempts + 1, updated = ? "
                f"WHERE run_id = ? AND email = ? RETURNING {_RECIPIENT_COLUMNS}",
                (stamp, run_id, email),
            ).fetchall()
        if claim > 0:
            rows += db.execute(
                f"UPDATE recipients SET state = 'sending', attempts = attempts + 1, updated = ? "
                f"WHERE rowid IN (SELECT rowid FROM recipients WHERE run_id = ? AND state = 'pending' "
                f"ORDER BY rowid LIMIT ?) RETURNING {_RECIPIENT_COLUMNS}",
                (stamp, run_id, claim),
            ).fetchall()
    return [_recipient(r) for r in rows]


def run_counts(db: sqlite3.Connection, run_id: int) -> dict[str, int]:
    """Recipients per state (every state present, zero when empty), plus `possible_duplicates`."""
    counts = dict.fromkeys(RECIPIENT_STATES, 0)
    for state, count in db.execute("SELECT state, COUNT(*) FROM recipients WHERE run_id = ? GROUP BY state",
                                   (run_id,)):
        counts[state] = count
    counts["possible_duplicates"] = db.execute(
        "SELECT COUNT(*) FROM recipients WHERE run_id = ? AND possible_duplicate = 1", (run_id,)).fetchone()[0]
    return counts


def run_recipients(db: sqlite3.Connection, run_id: int, states: Iterable[str] = RECIPIENT_STATES) -> list[RecipientRow]:
    """The run's recipients in the given states, in list order (e.g. failures for a report)."""
    states = tuple(states)
    marks = ", ".join("?" * len(states))
    rows = db.execute(f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE run_id = ? AND state IN ({marks}) "
                      "ORDER BY rowid", (run_id, *states))
    return [_recipient(r) for r in rows]


@dataclass(frozen=True)
class CachedLink:
    """A link `check --links` got an HTTP answer for: status, where it ended, the hops."""

    url: str
    status: int
    final_url: str
    redirects: tuple[str, ...]
    checked: str  # ISO timestamp, UTC


def get_link_checks(db: sqlite3.Connection, urls: Iterable[str], *, since: str) -> dict[str, CachedLink]:
    """The cached answers for `urls` checked at or after `since` (ISO timestamp)."""
    found: dict[str, CachedLink] = {}
    for url in set(urls):
        row = db.execute("SELECT url, status, final_url, redirects, checked FROM link_checks "
                         "WHERE url = ? AND checked >= ?", (url, since)).fetchone()
        if row is not None:
            found[url] = CachedLink(row[0], row[1], row[2], tuple(r for r in row[3].split("\n") if r), row[4])
    return found


def put_link_checks(db: sqlite3.Connection, links: Iterable[CachedLink]) -> None:
    with transaction(db):
        db.executemany(
            "INSERT INTO link_checks (url, status, final_url, redirects, checked) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET status = excluded.status, final_url = excluded.final_url, "
            "redirects = excluded.redirects, checked = excluded.checked",
            [(c.url, c.status, c.final_url, "\n".join(c.redirects), c.checked) for c in links],
        )
