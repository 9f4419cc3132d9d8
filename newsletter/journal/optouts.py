"""What subscribers asked of us: not to be mailed at all (suppressions), or only some themes.

The suppression list is checked before every send and fed by unsubscribes (site/unsubscribe.py),
hard bounces (audience/bounces.py, the send itself) and CRM imports (audience/suppressions.py); the theme
preferences are saved by the "Manage your topics" page (site/preferences.py) and win over the
CSV's themes when a send is planned (audience/choices.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from newsletter.addresses import address_key
from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction

__all__ = [
    "Suppression",
    "all_preferences",
    "get_preferences",
    "is_suppressed",
    "latest_recipient_themes",
    "list_suppressions",
    "saved_choices",
    "set_preferences",
    "suppress",
    "suppress_many",
    "suppressed_addresses",
    "suppression_reasons",
    "get_suppression",
    "unsuppress",
    "unsuppress_if",
]


@dataclass(frozen=True)
class Suppression:
    key: str  # the address key (`addresses.address_key`); the `email` column
    reason: str  # unsubscribed | hard-bounce | soft-bounces | manual | imported
    source: str  # one-click | web | mailto | csv:FILE | smtp:550 ...
    created: str


def suppress(db: Db, email: str, reason: str, source: str = "") -> bool:
    """Add an address to the suppression list; False if it was already there (kept as is)."""
    with transaction(db):
        cur = db.execute(
            "INSERT INTO suppressions (email, reason, source, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (address_key(email), reason, source, now()),
        )
        db.notify("suppressions")  # a send on another machine looks at its queue again
    return cur.rowcount == 1


def suppress_many(db: Db, rows: Iterable[tuple[str, str, str]]) -> int:
    """(email, reason, source) rows in one transaction; returns how many were new."""
    stamp = now()
    added = 0
    with transaction(db):
        for email, reason, source in rows:
            cur = db.execute(
                "INSERT INTO suppressions (email, reason, source, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (address_key(email), reason, source, stamp),
            )
            added += cur.rowcount
        db.notify("suppressions")
    return added


def unsuppress(db: Db, email: str) -> bool:
    with transaction(db):
        cur = db.execute("DELETE FROM suppressions WHERE email = ?", (address_key(email),))
    return cur.rowcount == 1


def unsuppress_if(db: Db, email: str, *, reason: str, sources: Iterable[str]) -> bool:
    """Lift a suppression only if it has this reason and one of these sources (one statement:
    a hard bounce recorded a moment ago is never deleted by a check made before it)."""
    sources = tuple(sources)
    marks = ", ".join("?" * len(sources))
    with transaction(db):
        cur = db.execute(f"DELETE FROM suppressions WHERE email = ? AND reason = ? AND source IN ({marks})",
                         (address_key(email), reason, *sources))
    return cur.rowcount == 1


def get_suppression(db: Db, email: str) -> Suppression | None:
    """The address's suppression (why and since when), or None."""
    row = db.execute("SELECT email, reason, source, created FROM suppressions WHERE email = ?",
                     (address_key(email),)).fetchone()
    return None if row is None else Suppression(*row)


def is_suppressed(db: Db, email: str) -> bool:
    row = db.execute("SELECT 1 FROM suppressions WHERE email = ?", (address_key(email),)).fetchone()
    return row is not None


def suppressed_addresses(db: Db) -> set[str]:
    return {row[0] for row in db.execute("SELECT email FROM suppressions")}


def suppression_reasons(db: Db, emails: Iterable[str]) -> dict[str, str]:
    """address -> reason for those of `emails` (already keys) on the list now: a send's
    second look at recipients it claimed a moment ago, before handing them out."""
    emails = list(emails)
    if not emails:
        return {}
    marks = ", ".join("?" * len(emails))
    return dict(db.execute(f"SELECT email, reason FROM suppressions WHERE email IN ({marks})", emails).fetchall())


def list_suppressions(db: Db) -> list[Suppression]:
    rows = db.execute("SELECT email, reason, source, created FROM suppressions ORDER BY created, email")
    return [Suppression(*row) for row in rows]


def get_preferences(db: Db, email: str) -> list[str] | None:
    """The themes a subscriber chose on the preferences page, or None if never chosen."""
    row = db.execute("SELECT themes FROM preferences WHERE email = ?", (address_key(email),)).fetchone()
    return None if row is None else [t for t in row[0].split("\n") if t]


def set_preferences(db: Db, email: str, themes: list[str]) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO preferences (email, themes, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (email) DO UPDATE SET themes = excluded.themes, updated = excluded.updated",
            (address_key(email), "\n".join(themes), now()),
        )


def saved_choices(db: Db, emails: Iterable[str]) -> dict[str, list[str]]:
    """The saved theme choices of these addresses only (a claim's few), read fresh each time."""
    emails = [address_key(e) for e in emails]
    if not emails:
        return {}
    marks = ", ".join("?" * len(emails))
    rows = db.execute(f"SELECT email, themes FROM preferences WHERE email IN ({marks})", emails)
    return {row[0]: [t for t in row[1].split("\n") if t] for row in rows}


def all_preferences(db: Db) -> dict[str, list[str]]:
    return {row[0]: [t for t in row[1].split("\n") if t]
            for row in db.execute("SELECT email, themes FROM preferences")}


def latest_recipient_themes(db: Db, email: str) -> tuple[str, ...] | None:
    """The themes the newest run planned for this address (from the CSV); None = all, or none yet."""
    row = db.execute("SELECT themes FROM recipients WHERE email = ? ORDER BY run_id DESC LIMIT 1",
                     (address_key(email),)).fetchone()
    return None if row is None or row[0] is None else tuple(t for t in row[0].split("\n") if t)
