"""Counts across the state for the issue report: opt-outs and sign-ups between two sends.

Only numbers leave these queries (how many suppressions of each reason, how many
confirmed sign-ups), never an address, so the report cannot list who left or joined.
Bounds are the ISO timestamps `runs.created` holds; None means open-ended.
"""

from __future__ import annotations

import sqlite3

__all__ = ["confirmed_signups_between", "list_size", "suppressions_between"]


def _between(column: str, start: str | None, end: str | None) -> tuple[str, tuple[str, ...]]:
    clauses, args = [], []
    if start is not None:
        clauses.append(f"{column} >= ?")
        args.append(start)
    if end is not None:
        clauses.append(f"{column} < ?")
        args.append(end)
    return (" AND ".join(clauses) or "1"), tuple(args)


def suppressions_between(db: sqlite3.Connection, start: str | None, end: str | None) -> dict[str, int]:
    """reason -> suppressions first recorded in [start, end)."""
    where, args = _between("created", start, end)
    return dict(db.execute(f"SELECT reason, COUNT(*) FROM suppressions WHERE {where} GROUP BY reason", args).fetchall())


def confirmed_signups_between(db: sqlite3.Connection, start: str | None, end: str | None) -> int:
    """Sign-ups confirmed in [start, end)."""
    where, args = _between("confirmed", start, end)
    row = db.execute(f"SELECT COUNT(*) FROM signups WHERE confirmed IS NOT NULL AND {where}", args).fetchone()
    return int(row[0])


def list_size(db: sqlite3.Connection, run_id: int) -> int:
    """The recipients a run was for: every row but the skipped (quiet, unsubscribed, gone)."""
    row = db.execute("SELECT COUNT(*) FROM recipients WHERE run_id = ? AND state != 'skipped'", (run_id,)).fetchone()
    return int(row[0])
