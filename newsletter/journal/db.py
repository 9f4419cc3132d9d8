"""Opening the state and the one way to write to it (a short transaction).

`connect` takes the configured state (a SQLite file beside the config, or a PostgreSQL
URL; backend.py knows the difference), brings its schema up to date (schema.py) and
hands back a `Db`. Every write is a `transaction`: on SQLite it takes the write lock up
front, so the subscriber site can write while `send` runs; on PostgreSQL rows lock one
by one, and `lock=` serialises the few writes that read, decide, then write.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsletter.journal.backend import Db, StateLocation, describe, open_backend, parse_state
from newsletter.journal.refusals import state_error
from newsletter.journal.schema import upgrade

__all__ = ["connect", "now", "transaction"]


def now() -> str:
    """The timestamp every row is stamped with: UTC, ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def connect(state: StateLocation | Path | str, *, migrate: bool = True) -> Db:
    """Open the state (creating a SQLite file if needed) at the current schema version.

    `migrate=False` opens it as it is (for `state upgrade` and `doctor`, which report the
    version before changing anything).
    """
    location = state if isinstance(state, StateLocation) else parse_state(state)
    try:
        db = open_backend(location)
    except sqlite3.DatabaseError as exc:
        raise state_error(exc, describe(location), "cannot open the state file") from exc
    try:
        if migrate:
            upgrade(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise state_error(exc, describe(location), "cannot open the state file") from exc
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(db: Db, lock: str | None = None) -> Iterator[Db]:
    """All of it or nothing (see `Db.transaction`). A write the SQLite file refuses (disk
    full, read-only, I/O error) rolls back, so the file keeps its last committed state,
    and comes out as one `NewsletterError` naming the file (refusals.py)."""
    with db.transaction(lock) as tx:
        yield tx
