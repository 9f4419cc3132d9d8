"""The SQLite side of the state: a private file (0600, its -wal and -shm too), in WAL mode,
waiting on another connection's lock rather than failing.

Moved out of backend.py unchanged; backend.py opens it (`open_backend`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["private_file", "sqlite_connect", "while_locked"]


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """Autocommit, WAL, waiting on locks; the file (and so its -wal and -shm) private to its owner."""
    if str(path) != ":memory:":
        private_file(path)
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=30000")
    while_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
    db.execute("PRAGMA synchronous=NORMAL")
    db.row_factory = sqlite3.Row
    return db


def private_file(path: Path) -> None:
    """Create the state file 0600, or take group and others' access off an older one.
    SQLite gives the -wal and -shm files the permissions of the database file."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return  # sqlite3 will say what is wrong
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    except OSError:
        pass  # not ours to change: leave it
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        try:
            if side.stat().st_mode & 0o077:
                side.chmod(0o600)
        except OSError:
            pass


def while_locked(step: Callable[[], object], seconds: float = 30.0) -> None:
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
