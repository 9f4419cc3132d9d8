"""A SQLite state file that cannot be read or written, as one line that says what to do.

The state records who has been sent each issue: advice that loses it (delete it, move it
aside, start afresh) would mail everyone again, so no message here ever gives it.
(PostgreSQL's refusals are backend.py's: `StateUnavailable` and "the state database refused".)
"""

from __future__ import annotations

import sqlite3

from newsletter.errors import NewsletterError

__all__ = ["state_error"]

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


def state_error(exc: sqlite3.Error, path: str | None, doing: str) -> NewsletterError:
    """One user-facing line for a state file that cannot be read or written, with what to do."""
    text = str(exc)
    for needle, what, hint in _STATE_PROBLEMS:
        if needle in text.lower():
            return NewsletterError(f"{doing}: {what} ({text})", path=path, hint=hint)
    return NewsletterError(f"{doing}: {text}", path=path, hint=f"{_KEEP}; if it is damaged, restore it from a backup")
