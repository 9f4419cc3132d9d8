"""Sign-ups (double opt-in): pending requests, confirmations and the consent on record.

One row per address: who asked (name, themes), the wording shown, where (page or
snippet), when it was requested, mailed and confirmed. A new request for an address
that is still pending keeps its nonce, so the link already mailed keeps working; the
hourly mail limit is checked and claimed in one transaction, so twenty requests at
once still mail one confirmation. `signup_clients` counts requests per client by a
keyed hash, never the address itself, and forgets them after the hour.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass

from newsletter.addresses import address_key
from newsletter.journal.db import now, transaction

__all__ = [
    "Signup",
    "SignupRequest",
    "claim_confirmation",
    "confirm_signup",
    "confirmed_signups",
    "count_client",
    "forget_unconfirmed",
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


def _signup(row: sqlite3.Row) -> Signup:
    themes = None if row["themes"] is None else tuple(t for t in row["themes"].split("\n") if t)
    return Signup(row["email"], row["name"], themes or None, row["nonce"], row["source"], row["consent"],
                  row["requested"], row["mailed"], row["confirmed"])


def get_signup(db: sqlite3.Connection, email: str) -> Signup | None:
    row = db.execute("SELECT * FROM signups WHERE email = ?", (address_key(email),)).fetchone()
    return None if row is None else _signup(row)


def claim_confirmation(db: sqlite3.Connection, request: SignupRequest, *, not_since: str,
                       renew: bool) -> str | None:
    """Record the request and claim its confirmation mail: the nonce to put in the link, or
    None when no mail may go (one was mailed at or after `not_since`, or the address is
    confirmed and `renew` is false). `renew` starts a fresh, unconfirmed request even for a
    confirmed address (it unsubscribed and comes back): old links stop working."""
    email = address_key(request.email)
    stamp = now()
    themes = None if request.themes is None else "\n".join(request.themes)
    with transaction(db):
        row = db.execute("SELECT nonce, mailed, confirmed FROM signups WHERE email = ?", (email,)).fetchone()
        if row is not None and row["mailed"] is not None and row["mailed"] >= not_since:
            return None
        if row is not None and row["confirmed"] is not None and not renew:
            return None
        nonce = row["nonce"] if row is not None and row["confirmed"] is None else secrets.token_urlsafe(12)
        db.execute(
            "INSERT INTO signups (email, name, themes, nonce, source, consent, requested, mailed, confirmed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (email) DO UPDATE SET name = excluded.name, "
            "themes = excluded.themes, nonce = excluded.nonce, source = excluded.source, "
            "consent = excluded.consent, requested = excluded.requested, mailed = excluded.mailed, "
            "confirmed = NULL",
            (email, request.name, themes, nonce, request.source, request.consent, stamp, stamp),
        )
    return nonce


def confirm_signup(db: sqlite3.Connection, email: str, nonce: str) -> tuple[Signup, bool] | None:
    """Confirm the request this nonce belongs to: the row and whether this call confirmed it
    (False: confirmed before, nothing changed); None if no such request (a newer one replaced it)."""
    email = address_key(email)
    with transaction(db):
        cur = db.execute("UPDATE signups SET confirmed = ? WHERE email = ? AND nonce = ? AND confirmed IS NULL",
                         (now(), email, nonce))
        row = db.execute("SELECT * FROM signups WHERE email = ? AND nonce = ?", (email, nonce)).fetchone()
    return None if row is None else (_signup(row), cur.rowcount == 1)


def confirmed_signups(db: sqlite3.Connection) -> list[Signup]:
    """Every confirmed sign-up, oldest confirmation first."""
    rows = db.execute("SELECT * FROM signups WHERE confirmed IS NOT NULL ORDER BY confirmed, email")
    return [_signup(row) for row in rows]


def count_client(db: sqlite3.Connection, client: str, *, at: float, limit: int) -> bool:
    """Count one sign-up for `client` at `at` (Unix time) if it is under `limit` this hour;
    False (and nothing counted) when it is over. Entries older than the hour are dropped."""
    with transaction(db):
        db.execute("DELETE FROM signup_clients WHERE at < ?", (at - CLIENT_WINDOW,))
        (recent,) = db.execute("SELECT COUNT(*) FROM signup_clients WHERE client = ?", (client,)).fetchone()
        if recent >= limit:
            return False
        db.execute("INSERT INTO signup_clients (client, at) VALUES (?, ?)", (client, at))
    return True


def forget_unconfirmed(db: sqlite3.Connection, *, requested_before: str) -> int:
    """Delete the pending sign-ups requested before `requested_before` (their links have
    expired); how many. An address nobody confirmed is not kept: it never consented."""
    with transaction(db):
        cur = db.execute("DELETE FROM signups WHERE confirmed IS NULL AND requested < ?", (requested_before,))
    return cur.rowcount
