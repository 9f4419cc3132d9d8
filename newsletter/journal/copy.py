"""Moving house: every row of one state into another (a SQLite file into PostgreSQL).

The target is brought to the current schema first, must be empty unless `force` (then
it is emptied), and gets the rows table by table, parents first, in one transaction;
then each table's rows are counted on both sides. A count that differs rolls nothing
back (the copy committed) but raises, naming the table, so nobody switches over to a
state that lost rows. Recipients keep their list order (`rowid`); ids stay the same, so
VERP return paths and Message-IDs already sent keep matching their run.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.errors import NewsletterError
from newsletter.journal.backend import Db, describe
from newsletter.journal.schema import TABLES, has_table, schema_version, upgrade

__all__ = ["CopyReport", "copy_state", "row_counts"]

_BATCH = 2000


@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]  # table -> rows now in the target (equal to the source's)
    replaced: bool  # the target held rows and --force emptied it first


def row_counts(db: Db) -> dict[str, int]:
    """Rows per table, for the tables the state has (one not yet upgraded lacks the newer ones)."""
    return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in TABLES
            if has_table(db, table)}


def _columns(db: Db, table: str) -> list[str]:
    cur = db.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description or ()]


def copy_state(source: Db, target: Db, *, force: bool = False) -> CopyReport:
    """Copy every row of `source` into `target`; raises if the target is not empty (without
    `force`) or if any table's count differs afterwards."""
    upgrade(source)
    upgrade(target)
    if schema_version(source) != schema_version(target):
        raise NewsletterError("the two states are at different schema versions",
                              hint="run `newsletter state upgrade` on both, with the same newsletter version")
    before = row_counts(target)
    full = {t: n for t, n in before.items() if n}
    if full and not force:
        listed = ", ".join(f"{t} ({n})" for t, n in full.items())
        raise NewsletterError(f"the target already holds rows: {listed}", path=describe(target.state),
                              hint="copy into an empty database, or add --force to replace what is there")
    with target.transaction(lock="schema"):
        for table in reversed(TABLES):
            if full:
                target.execute(f"DELETE FROM {table}")
        for table in TABLES:
            _copy_table(source, target, table)
        _reset_identities(target)
    counts = row_counts(target)
    expected = row_counts(source)
    for table in TABLES:
        if counts[table] != expected[table]:
            raise NewsletterError(f"copied {counts[table]} rows of {table} but the source has {expected[table]}",
                                  path=describe(target.state), hint="check both states, then copy again with --force")
    return CopyReport(counts, bool(full))


def _copy_table(source: Db, target: Db, table: str) -> None:
    """Every row, in stored order; `rowid` too for recipients (their list order)."""
    columns = [c for c in _columns(target, table) if c in set(_columns(source, table)) or c == "rowid"]
    select = ", ".join(columns)
    order = " ORDER BY rowid" if table == "recipients" else ""  # both engines have a rowid there
    insert = f"INSERT INTO {table} ({select}) VALUES ({', '.join('?' * len(columns))})"
    cur = source.execute(f"SELECT {select} FROM {table}{order}")
    while True:
        rows = cur.fetchmany(_BATCH)
        if not rows:
            break
        target.executemany(insert, [tuple(r) for r in rows])


def _reset_identities(db: Db) -> None:
    """PostgreSQL hands out new ids after the highest copied one, not from 1 again."""
    if not db.postgresql:
        return
    for table, column in (("runs", "id"), ("recipients", "rowid"), ("signup_requests", "id"),
                          ("consent_events", "id"), ("approvals", "id")):
        db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                   f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)")
