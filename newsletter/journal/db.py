"""The state file itself: its schema, opening it, and the one way to write (a short transaction).

The file is opened in WAL mode with a busy timeout so the unsubscribe server can write
while `send` runs; every write is a `transaction`, taking the write lock up front.
The whole schema stays here, in one place, so the file's layout reads at a glance;
the modules beside this one each own the queries over their tables.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from newsletter.errors import NewsletterError

__all__ = ["SCHEMA", "connect", "now", "transaction"]

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
CREATE TABLE IF NOT EXISTS signups (
    email TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    themes TEXT,                   -- newline-separated display names; NULL = every theme
    nonce TEXT NOT NULL,           -- this request's; its confirmation link carries it
    source TEXT NOT NULL,          -- page | snippet
    consent TEXT NOT NULL,         -- the wording shown beside the button
    requested TEXT NOT NULL,
    mailed TEXT,                   -- the last confirmation mail (one an hour at most)
    confirmed TEXT                 -- NULL while pending
);
CREATE TABLE IF NOT EXISTS signup_clients (
    client TEXT NOT NULL,          -- keyed hash of the client's address, never the address
    at REAL NOT NULL               -- Unix time of the sign-up
);
CREATE INDEX IF NOT EXISTS signup_clients_client ON signup_clients (client, at);
-- counted links (tracking.clicks; queries in clicks.py): one row per link of an issue,
-- a number and nothing else: no reader, no address, no time of a click.
CREATE TABLE IF NOT EXISTS clicks (
    slug TEXT NOT NULL,            -- the issue (runs.slug)
    url TEXT NOT NULL,             -- the item's URL the counted link redirects to
    hits INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0),
    PRIMARY KEY (slug, url)
);
"""


def now() -> str:
    """The timestamp every row is stamped with: UTC, ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state file; autocommit, WAL, waits on locks."""
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=30000")
        _while_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
        db.execute("PRAGMA synchronous=NORMAL")
        _while_locked(lambda: db.executescript(SCHEMA))
    except sqlite3.DatabaseError as exc:
        raise NewsletterError(f"cannot open the state file: {exc}", path=path,
                              hint="is it a newsletter state file? move it aside to start afresh") from exc
    db.row_factory = sqlite3.Row
    return db


def _while_locked(step: Callable[[], object], seconds: float = 30.0) -> None:
    """Run `step`, again while another connection holds the lock. Switching a new file to
    WAL does not wait on SQLite's busy timeout, so many first requests at once (a burst of
    sign-ups on a fresh site) would otherwise fail with "database is locked"."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


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
