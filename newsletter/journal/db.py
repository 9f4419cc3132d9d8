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

__all__ = ["CONSENT_SCHEMA", "SCHEMA", "connect", "now", "transaction"]

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
    kind TEXT NOT NULL DEFAULT 'real' CHECK (kind IN ('real','rehearsal')),
    UNIQUE (slug, kind)
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
    relay TEXT NOT NULL DEFAULT '',  -- host:port of the server that accepted the message
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
-- approvals (issue 30): what someone reviewed, as hashes of every version the list receives
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    approved TEXT NOT NULL,        -- UTC, ISO 8601
    record TEXT NOT NULL           -- JSON: versions (hashes, subject, items) and check results
);
CREATE INDEX IF NOT EXISTS approvals_slug ON approvals (slug, id);
-- counted links (tracking.clicks; queries in clicks.py): one row per link of an issue,
-- a number and nothing else: no reader, no address, no time of a click.
CREATE TABLE IF NOT EXISTS clicks (
    slug TEXT NOT NULL,            -- the issue (runs.slug)
    url TEXT NOT NULL,             -- the item's URL the counted link redirects to
    hits INTEGER NOT NULL DEFAULT 0 CHECK (hits >= 0),
    PRIMARY KEY (slug, url)
);
"""

# Consent, append-only (issue 28; queries in consent.py): new tables only, the ones above unchanged.
CONSENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS signup_requests (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    mailbox TEXT NOT NULL,         -- the mailbox key (+tag and Gmail dots folded): the hourly limit's
    name TEXT NOT NULL DEFAULT '',
    themes TEXT,                   -- newline-separated display names; NULL = every theme
    nonce TEXT NOT NULL UNIQUE,    -- its confirmation link carries it
    source TEXT NOT NULL,          -- page | snippet | resubscribe
    consent TEXT NOT NULL,         -- the wording shown beside the button
    requested TEXT NOT NULL,
    mail TEXT NOT NULL DEFAULT 'queued',  -- queued | sending | sent | held | failed
    mailed TEXT                    -- when its confirmation mail was claimed (NULL: none went)
);
CREATE INDEX IF NOT EXISTS signup_requests_email ON signup_requests (email);
CREATE INDEX IF NOT EXISTS signup_requests_mailbox ON signup_requests (mailbox, mailed);
CREATE INDEX IF NOT EXISTS signup_requests_mailed ON signup_requests (mailed);
CREATE TABLE IF NOT EXISTS consent_events (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    event TEXT NOT NULL,           -- confirmed | unsubscribed
    at TEXT NOT NULL,
    wording TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    request INTEGER                -- the signup_requests row a confirmation confirms
);
CREATE INDEX IF NOT EXISTS consent_events_email ON consent_events (email);
CREATE TABLE IF NOT EXISTS erasures (
    at TEXT NOT NULL,
    erased TEXT NOT NULL,          -- the address's keyed hash, never the address
    rows INTEGER NOT NULL          -- how many rows were deleted
);
CREATE TABLE IF NOT EXISTS used_stamps (
    stamp TEXT PRIMARY KEY,        -- a sign-up form's stamp, spent once
    at REAL NOT NULL
);
INSERT INTO consent_events (email, event, at, wording, source)
    SELECT email, 'confirmed', confirmed, consent, source FROM signups
    WHERE confirmed IS NOT NULL AND NOT EXISTS (SELECT 1 FROM consent_events LIMIT 1);
"""
# The last statement carries the confirmations made before this table existed into it, once.


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
        _while_locked(lambda: db.executescript(SCHEMA + CONSENT_SCHEMA))
        _while_locked(lambda: _add_run_kinds(db))
    except sqlite3.DatabaseError as exc:
        raise _state_error(exc, path, "cannot open the state file") from exc
    db.row_factory = sqlite3.Row
    return db


# --- migration: run kinds and relays (issue 26) ------------------------------------------
# State files made before rehearsals were told apart have `runs` with UNIQUE (slug) and no
# `kind`, and `recipients` without `relay`. A run whose every delivered message went into
# the embedded outbox (its reply says so) was a rehearsal, and becomes one; any other run
# stays real, so nobody a relay accepted is ever mailed again.

OUTBOX_REPLY = "filed in the local outbox"  # deliver/outbox.py's 250 text


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _add_run_kinds(db: sqlite3.Connection) -> None:
    """Bring a state file from before issue 26 up to the schema above, in one transaction."""
    if "kind" in _columns(db, "runs") and "relay" in _columns(db, "recipients"):
        return
    with transaction(db):
        if "relay" not in _columns(db, "recipients"):
            db.execute("ALTER TABLE recipients ADD COLUMN relay TEXT NOT NULL DEFAULT ''")
        if "kind" in _columns(db, "runs"):
            return
        # SQLite cannot change a UNIQUE constraint in place: copy into a new table, swap it in
        runs_table = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS runs"):SCHEMA.index(");") + 2]
        db.execute(runs_table.replace("IF NOT EXISTS runs", "runs_with_kinds"))
        db.execute(
            "INSERT INTO runs_with_kinds (id, slug, subject, digest, subscribers, created, updated, finished, kind) "
            "SELECT id, slug, subject, digest, subscribers, created, updated, finished, "
            "CASE WHEN EXISTS (SELECT 1 FROM recipients r WHERE r.run_id = o.id AND r.state = 'sent') "
            "AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.run_id = o.id AND r.state = 'sent' "
            "AND r.reply NOT LIKE ?) THEN 'rehearsal' ELSE 'real' END FROM runs o",
            (f"%{OUTBOX_REPLY}%",))
        db.execute("DROP TABLE runs")
        db.execute("ALTER TABLE runs_with_kinds RENAME TO runs")


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


# The state records who has been sent each issue: advice that loses it (delete it, move it
# aside, start afresh) would mail everyone again, so no message here ever gives it.
_KEEP = "keep the file: it records who has been sent each issue"
_STATE_PROBLEMS = (
    ("full", "the disk is full", "free some space, then run the same command again; nothing recorded is lost"),
    ("readonly", "the file or its folder is read-only",
     "make both writable by this user, then run the same command again"),
    ("read-only", "the file or its folder is read-only",
     "make both writable by this user, then run the same command again"),
    ("unable to open", "it cannot be opened (a missing or read-only folder, or no permission)",
     "check the folder and the file's permissions"),
    ("locked", "another process holds it locked", "wait for it to finish, then run this again"),
    ("i/o error", "the disk reported an I/O error", f"check the disk; {_KEEP}, and restore it from a backup if "
     "it is damaged"),
    ("not a database", "it is not a newsletter state file, or it is damaged",
     f"check `state:` in the config points at the right file; {_KEEP}, and restore it from a backup"),
    ("malformed", "it is damaged", f"{_KEEP}, and restore it from a backup (`sqlite3 FILE .recover` may help)"),
)


def _state_error(exc: sqlite3.Error, path: Path | str | None, doing: str) -> NewsletterError:
    """One user-facing line for a state file that cannot be read or written, with what to do."""
    text = str(exc)
    for needle, what, hint in _STATE_PROBLEMS:
        if needle in text.lower():
            return NewsletterError(f"{doing}: {what} ({text})", path=path, hint=hint)
    return NewsletterError(f"{doing}: {text}", path=path, hint=f"{_KEEP}; if it is damaged, restore it from a backup")


def _path_of(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return None
    return str(row[2]) if row and row[2] else None


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front, roll back on error.

    A write the disk refuses (full, read-only, I/O error) rolls back, so the file keeps
    its last committed state, and comes out as one `NewsletterError` naming the file."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise _state_error(exc, _path_of(db), "cannot write to the state file") from exc
    try:
        yield db
        db.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        _rollback(db)
        raise _state_error(exc, _path_of(db), "cannot write to the state file") from exc
    except BaseException:
        _rollback(db)
        raise


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction; if even that fails, SQLite undoes it when the file is next opened."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
