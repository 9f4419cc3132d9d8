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
    "FeedCache",
    "get_feed_cache",
    "put_feed_cache",
    "collected_keys",
    "record_collected",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    finished TEXT,
    UNIQUE (slug)
);
CREATE TABLE IF NOT EXISTS recipients (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('pending','sending','sent','deferred','failed','skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    reply TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL DEFAULT '',
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
