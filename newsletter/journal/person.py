"""One person's data: everything the state file holds about an address, and erasing it.

`person_records` answers "what do you hold about me?" (GDPR article 15) table by
table; `forget_address` answers "forget me" (article 17): it deletes the address from
every table that holds it and leaves only a keyed hash in the suppression list (made
by the caller, tokens.erasure_key), so a later CSV or CRM import cannot mail them again
while nobody can read the address back from the hash.
"""

from __future__ import annotations

from typing import Any

from newsletter.addresses import address_key
from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction
from newsletter.journal.states import SuppressionReason

__all__ = ["ADDRESS_COLUMNS", "erased_keys", "forget_address", "person_records", "record_erasure"]

# Every table that holds an address, and the columns it is in.
ADDRESS_COLUMNS: dict[str, tuple[str, ...]] = {
    "signups": ("email",),
    "signup_requests": ("email",),
    "consent_events": ("email",),
    "preferences": ("email",),
    "language_choices": ("email",),
    "suppressions": ("email",),
    "recipients": ("email", "address"),
    "bounces": ("email",),
}
_ORDER = {"signup_requests": "id", "consent_events": "id", "recipients": "run_id", "bounces": "received"}


def _where(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"lower({column}) = ?" for column in columns)


def person_records(db: Db, email: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about `email`, by table (sends carry the issue's slug), oldest first."""
    key = address_key(email)
    records: dict[str, list[dict[str, Any]]] = {}
    for table, columns in ADDRESS_COLUMNS.items():
        order = _ORDER.get(table, "email")  # the others hold one row per address
        if table == "recipients":
            query = ("SELECT runs.slug AS issue, recipients.* FROM recipients JOIN runs ON runs.id = recipients.run_id "
                     f"WHERE {_where(tuple('recipients.' + c for c in columns))} ORDER BY recipients.run_id")
        else:
            query = f"SELECT * FROM {table} WHERE {_where(columns)} ORDER BY {order}"
        rows = db.execute(query, (key,) * len(columns)).fetchall()
        records[table] = [{k: row[k] for k in row.keys() if k != "rowid"} for row in rows]  # PostgreSQL's list order
    return records


def forget_address(db: Db, email: str, erased_key: str) -> dict[str, int]:
    """Delete every row about `email` and suppress `erased_key` (its keyed hash) instead,
    in one transaction; how many rows each table lost."""
    key = address_key(email)
    removed: dict[str, int] = {}
    with transaction(db):
        for table, columns in ADDRESS_COLUMNS.items():
            cur = db.execute(f"DELETE FROM {table} WHERE {_where(columns)}", (key,) * len(columns))
            removed[table] = cur.rowcount
        db.execute("INSERT INTO suppressions (email, reason, source, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   (erased_key, SuppressionReason.ERASED, "person forget", now()))
    return removed


def record_erasure(db: Db, erased_key: str, rows: int) -> None:
    """The erasure log: when, which hash, how many rows; never the address."""
    with transaction(db):
        db.execute("INSERT INTO erasures (at, erased, rows) VALUES (?, ?, ?)", (now(), erased_key, rows))


def erased_keys(db: Db) -> set[str]:
    """The keyed hashes of every erased address (see tokens.erasure_key)."""
    return {row[0] for row in db.execute("SELECT email FROM suppressions WHERE reason = ?", (SuppressionReason.ERASED,))}
