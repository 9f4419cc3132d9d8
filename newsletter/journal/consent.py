"""Consent, append-only: every sign-up request and every confirmation, unsubscribe and
resubscribe is a row of its own, and nothing a visitor does rewrites or deletes one.

`signup_requests` holds each form post (and each "Resubscribe" press) as it was made:
the name, topics, consent wording and source, and the nonce its confirmation link
carries. Only the mail columns (`mail`, `mailed`) change afterwards, and only the one
background sender writes them. `consent_events` records what the holder of a link or a
token did: `confirmed` (naming the request it confirms) and `unsubscribed`. The
`signups` table (db.py) stays the current list of confirmed sign-ups that `send` reads,
refreshed from the request a confirmation confirms.

Expired requests nobody confirmed are deleted (`forget_unconfirmed`), but never for an
address that was ever confirmed: its whole history is the proof of consent.
`forget_address` (GDPR erasure, `newsletter person forget`) is the one other delete.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from newsletter.addresses import address_key
from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction
from newsletter.journal.languages import save_language

__all__ = [
    "ConsentEvent",
    "MailClaim",
    "PendingRequest",
    "add_request",
    "claim_request_mail",
    "confirm_request",
    "consent_events",
    "forget_unconfirmed",
    "get_request",
    "latest_mailed_request",
    "record_consent_event",
    "release_request_mail",
    "requests_of",
    "set_request_mail",
    "unfinished_requests",
    "use_stamp",
]

STAMP_WINDOW = 3600.0  # seconds a spent stamp is remembered (stamps expire after an hour anyway)


@dataclass(frozen=True)
class PendingRequest:
    """A row of `signup_requests`."""

    id: int
    email: str
    mailbox: str
    name: str
    themes: tuple[str, ...] | None
    nonce: str
    source: str
    consent: str
    requested: str
    mail: str
    mailed: str | None
    language: str | None = None  # chosen on the form; None when it offered no choice


@dataclass(frozen=True)
class ConsentEvent:
    """A row of `consent_events`."""

    email: str
    event: str
    at: str
    wording: str
    source: str
    request: int | None


@dataclass(frozen=True)
class MailClaim:
    """The background sender's answer for one request: `status` is "claimed" (mail it),
    or why not: "gone", "suppressed", "subscribed", "recent", "capped"."""

    status: str
    request: PendingRequest | None = None


def _request(row: Any) -> PendingRequest:
    themes = None if row["themes"] is None else tuple(t for t in row["themes"].split("\n") if t) or None
    return PendingRequest(row["id"], row["email"], row["mailbox"], row["name"], themes, row["nonce"],
                          row["source"], row["consent"], row["requested"], row["mail"], row["mailed"],
                          row["language"])


def use_stamp(db: Db, stamp: str, *, at: float) -> bool:
    """Spend a form stamp; False if it was spent before (within the hour it is valid)."""
    with transaction(db):
        db.execute("DELETE FROM used_stamps WHERE at < ?", (at - STAMP_WINDOW,))
        cur = db.execute("INSERT INTO used_stamps (stamp, at) VALUES (?, ?) ON CONFLICT DO NOTHING", (stamp, at))
    return cur.rowcount == 1


def add_request(db: Db, *, email: str, mailbox: str, name: str, themes: tuple[str, ...] | None,
                source: str, consent: str, language: str | None = None) -> PendingRequest:
    """Append one request, whoever the address is; its nonce is new and its own."""
    stamp = now()
    nonce = secrets.token_urlsafe(12)
    joined = None if themes is None else "\n".join(themes)
    with transaction(db):
        (request_id,) = db.execute(
            "INSERT INTO signup_requests (email, mailbox, name, themes, nonce, source, consent, requested, language) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (address_key(email), mailbox, name, joined, nonce, source, consent, stamp, language)).fetchone()
    return PendingRequest(int(request_id), address_key(email), mailbox, name, themes, nonce, source,
                          consent, stamp, "queued", None, language)


def get_request(db: Db, request_id: int) -> PendingRequest | None:
    row = db.execute("SELECT * FROM signup_requests WHERE id = ?", (request_id,)).fetchone()
    return None if row is None else _request(row)


def requests_of(db: Db, email: str) -> list[PendingRequest]:
    """Every request for an address, oldest first."""
    rows = db.execute("SELECT * FROM signup_requests WHERE email = ? ORDER BY id", (address_key(email),))
    return [_request(row) for row in rows]


def latest_mailed_request(db: Db, email: str) -> PendingRequest | None:
    """The newest request whose confirmation mail went: only its link confirms."""
    row = db.execute("SELECT * FROM signup_requests WHERE email = ? AND mail = 'sent' ORDER BY id DESC LIMIT 1",
                     (address_key(email),)).fetchone()
    return None if row is None else _request(row)


def claim_request_mail(db: Db, request_id: int, *, not_since: str, hour_start: str, cap: int,
                       mailable: tuple[str, ...]) -> MailClaim:
    """Decide, in one transaction, whether request `request_id` is mailed its link, and claim it.

    Not mailed: an address suppressed for a reason outside `mailable`; one confirmed and
    not suppressed (already on the list); a mailbox mailed at or after `not_since`; or
    `cap` mails claimed since `hour_start` in all (the global hourly cap). On PostgreSQL
    the claims of every `serve` process take turns (one advisory lock), so two of them
    cannot both decide a mailbox is due.
    """
    with transaction(db, lock="signup-mail"):
        row = db.execute("SELECT * FROM signup_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None or row["mail"] != "queued":
            return MailClaim("gone")
        request = _request(row)
        suppression = db.execute("SELECT reason FROM suppressions WHERE email = ?", (request.email,)).fetchone()
        status = ""
        if suppression is not None and suppression[0] not in mailable:
            status = "suppressed"
        elif suppression is None and db.execute("SELECT 1 FROM signups WHERE email = ? AND confirmed IS NOT NULL",
                                                (request.email,)).fetchone():
            status = "subscribed"
        elif db.execute("SELECT 1 FROM signup_requests WHERE mailbox = ? AND mailed >= ? LIMIT 1",
                        (request.mailbox, not_since)).fetchone():
            status = "recent"
        elif db.execute("SELECT COUNT(*) FROM signup_requests WHERE mailed >= ?", (hour_start,)).fetchone()[0] >= cap:
            status = "capped"
        if status:
            db.execute("UPDATE signup_requests SET mail = 'held' WHERE id = ?", (request_id,))
            return MailClaim(status, request)
        db.execute("UPDATE signup_requests SET mail = 'sending', mailed = ? WHERE id = ?", (now(), request_id))
    return MailClaim("claimed", request)


def set_request_mail(db: Db, request_id: int, state: str) -> None:
    """The confirmation mail's outcome: sent (its link now confirms), or sending again."""
    with transaction(db):
        db.execute("UPDATE signup_requests SET mail = ? WHERE id = ?", (state, request_id))


def release_request_mail(db: Db, request_id: int) -> None:
    """The mail could not go after every retry: mark it failed and give the mailbox its
    hourly allowance back, so the visitor can simply ask again."""
    with transaction(db):
        db.execute("UPDATE signup_requests SET mail = 'failed', mailed = NULL WHERE id = ?", (request_id,))


def unfinished_requests(db: Db, *, requested_since: str) -> list[int]:
    """After a restart: the requests whose mail was still queued (to queue again), oldest
    first; a mail left half-sent is marked failed and its mailbox's hour given back."""
    with transaction(db):
        db.execute("UPDATE signup_requests SET mail = 'failed', mailed = NULL WHERE mail = 'sending'")
        rows = db.execute("SELECT id FROM signup_requests WHERE mail = 'queued' AND requested >= ? ORDER BY id",
                          (requested_since,)).fetchall()
    return [row[0] for row in rows]


def confirm_request(db: Db, email: str, nonce: str) -> tuple[PendingRequest, bool] | None:
    """Confirm the request this nonce belongs to, if it is the address's newest mailed one.

    Returns the request and whether this call confirmed it (False: it was confirmed
    before, nothing is written); None if the link is not (or no longer) the one that
    confirms. A confirmation is a new `consent_events` row; the `signups` row `send`
    reads is refreshed from the request, and the language chosen on the form becomes the
    reader's language choice (languages.py), as if chosen on the topics page.
    """
    email = address_key(email)
    with transaction(db, lock=f"consent:{email}"):  # two clicks at once record one confirmation
        row = db.execute("SELECT * FROM signup_requests WHERE email = ? AND mail = 'sent' ORDER BY id DESC LIMIT 1",
                         (email,)).fetchone()
        if row is None or not secrets.compare_digest(row["nonce"], nonce):
            return None
        request = _request(row)
        if db.execute("SELECT 1 FROM consent_events WHERE request = ? AND event = 'confirmed'",
                      (request.id,)).fetchone():
            return request, False
        stamp = now()
        db.execute("INSERT INTO consent_events (email, event, at, wording, source, request) "
                   "VALUES (?, 'confirmed', ?, ?, ?, ?)", (email, stamp, request.consent, request.source, request.id))
        db.execute(
            "INSERT INTO signups (email, name, themes, nonce, source, consent, requested, mailed, confirmed) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET name = excluded.name, "
            "themes = excluded.themes, nonce = excluded.nonce, source = excluded.source, "
            "consent = excluded.consent, requested = excluded.requested, mailed = excluded.mailed, "
            "confirmed = excluded.confirmed",
            (email, request.name, row["themes"], request.nonce, request.source, request.consent,
             request.requested, request.mailed, stamp))
        if request.language:
            save_language(db, email, request.language, source="signup", at=stamp)
    return request, True


def record_consent_event(db: Db, email: str, event: str, *, wording: str = "",
                         source: str = "") -> None:
    """Append an event (an unsubscribe, say) to the address's consent history."""
    with transaction(db):
        db.execute("INSERT INTO consent_events (email, event, at, wording, source) VALUES (?, ?, ?, ?, ?)",
                   (address_key(email), event, now(), wording, source))


def consent_events(db: Db, email: str) -> list[ConsentEvent]:
    rows = db.execute("SELECT email, event, at, wording, source, request FROM consent_events WHERE email = ? "
                      "ORDER BY id", (address_key(email),))
    return [ConsentEvent(*row) for row in rows]


def forget_unconfirmed(db: Db, *, requested_before: str) -> int:
    """Delete the requests made before `requested_before` (their links have expired) of
    addresses that were never confirmed; how many. Someone who never consented is not
    kept; someone who did keeps every record, requests included."""
    with transaction(db):
        cur = db.execute(
            "DELETE FROM signup_requests WHERE requested < ? AND mail != 'sending' AND email NOT IN "
            "(SELECT email FROM consent_events WHERE event = 'confirmed')", (requested_before,))
    return cur.rowcount
