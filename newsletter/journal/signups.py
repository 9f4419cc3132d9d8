"""Confirmed sign-ups as `send` reads them, and the per-client count of the sign-up page.

`signups` has one row per confirmed address: the request its confirmation confirmed
(name, themes, wording, source, when requested, mailed and confirmed). The requests
themselves and the consent history are append-only, in consent.py, which refreshes
this row on each confirmation. `signup_clients` counts requests per client network by
a keyed hash, never the address itself, and forgets them after the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from newsletter.addresses import address_key
from newsletter.journal.backend import Db
from newsletter.journal.db import transaction

__all__ = [
    "Signup",
    "SignupRequest",
    "confirmed_signups",
    "count_client",
    "get_signup",
]

CLIENT_WINDOW = 3600.0  # seconds a client's sign-ups count against its limit


@dataclass(frozen=True)
class SignupRequest:
    """What the form asked for, as the site passes it in."""

    email: str
    name: str
    themes: tuple[str, ...] | None  # None = every theme
    source: str  # page | snippet
    consent: str
    language: str | None = None  # chosen on the form (one of the config's `languages`); None: no choice offered


@dataclass(frozen=True)
class Signup:
    """A row of `signups`: the request and, once confirmed, the consent on record."""

    email: str
    name: str
    themes: tuple[str, ...] | None
    nonce: str
    source: str
    consent: str
    requested: str
    mailed: str | None
    confirmed: str | None


def _signup(row: Any) -> Signup:
    themes = None if row["themes"] is None else tuple(t for t in row["themes"].split("\n") if t)
    return Signup(row["email"], row["name"], themes or None, row["nonce"], row["source"], row["consent"],
                  row["requested"], row["mailed"], row["confirmed"])


def get_signup(db: Db, email: str) -> Signup | None:
    row = db.execute("SELECT * FROM signups WHERE email = ?", (address_key(email),)).fetchone()
    return None if row is None else _signup(row)


def confirmed_signups(db: Db) -> list[Signup]:
    """Every confirmed sign-up, oldest confirmation first."""
    rows = db.execute("SELECT * FROM signups WHERE confirmed IS NOT NULL ORDER BY confirmed, email")
    return [_signup(row) for row in rows]


def count_client(db: Db, client: str, *, at: float, limit: int) -> bool:
    """Count one sign-up for `client` at `at` (Unix time) if it is under `limit` this hour;
    False (and nothing counted) when it is over. Entries older than the hour are dropped."""
    with transaction(db, lock=f"client:{client}"):
        db.execute("DELETE FROM signup_clients WHERE at < ?", (at - CLIENT_WINDOW,))
        (recent,) = db.execute("SELECT COUNT(*) FROM signup_clients WHERE client = ?", (client,)).fetchone()
        if recent >= limit:
            return False
        db.execute("INSERT INTO signup_clients (client, at) VALUES (?, ?)", (client, at))
    return True
