"""Sign-ups from the subscriber site: who may be mailed a confirmation, and who joins the list.

The site (site/subscribe.py) turns a form into a `SignupRequest` with `read_request`,
asks `request_signup` whether a confirmation mail may go (not to an address suppressed
for anything but an unsubscribe, not to one confirmed and still subscribed, not twice
an hour), and confirms with `confirm`. An address that unsubscribed comes back only by
confirming a new request: its suppression is lifted when that request is confirmed.
`with_signups` adds the confirmed sign-ups to the CSV's list for `send`; the CSV's row
wins for an address in both, and suppressions are applied later, as for any row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterable

from newsletter import journal
from newsletter.audience.choices import ordered, selection_of
from newsletter.audience.subscribers import MAX_NAME, Subscriber, SubscriberList, check_address
from newsletter.config import Config

__all__ = [
    "MAIL_INTERVAL", "SOURCES", "UNSUBSCRIBED", "confirm", "forget_expired", "read_request", "request_signup",
    "with_signups",
]

MAIL_INTERVAL = dt.timedelta(hours=1)  # at most one confirmation mail per address in this time
SOURCES = ("page", "snippet")
UNSUBSCRIBED = "unsubscribed"  # the one suppression reason a new sign-up may lift


def read_request(config: Config, email: str, name: str, themes: Iterable[str], source: str) -> journal.SignupRequest:
    """The form's fields as a request; `ValueError` with the reason for an invalid address."""
    if len(email) > 254:
        raise ValueError("the address is too long")
    address = check_address(email).strip().lower()
    chosen = ordered(selection_of([t for t in themes if t], config), config) if themes else None
    consent = config.subscribe.consent if config.subscribe else ""
    return journal.SignupRequest(
        email=address,
        name=" ".join(name.split())[:MAX_NAME].strip(),
        themes=chosen,
        source=source if source in SOURCES else "page",
        consent=consent,
    )


def request_signup(db: sqlite3.Connection, request: journal.SignupRequest, *,
                   now: dt.datetime | None = None) -> str | None:
    """Record the request; the nonce for a confirmation mail, or None if none may go."""
    suppression = journal.get_suppression(db, request.email)
    if suppression is not None and suppression.reason != UNSUBSCRIBED:
        return None  # a hard bounce, a complaint, the officer's own entry: never mail it
    since = (now or dt.datetime.now(dt.UTC)) - MAIL_INTERVAL
    return journal.claim_confirmation(db, request, not_since=since.isoformat(timespec="seconds"),
                                      renew=suppression is not None)


def forget_expired(db: sqlite3.Connection, expires_days: int, *, now: dt.datetime | None = None) -> int:
    """Forget the pending sign-ups whose confirmation link has expired: unconfirmed
    addresses are not kept longer than their link works."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=expires_days)
    return journal.forget_unconfirmed(db, requested_before=cutoff.isoformat(timespec="seconds"))


def confirm(db: sqlite3.Connection, email: str, nonce: str) -> journal.Signup | None:
    """Confirm the request a link was made for; None if that request no longer exists.

    The confirmation that confirms lifts an unsubscribe (they came back); confirming the
    same request again changes nothing, so an old link never undoes a later unsubscribe.
    """
    confirmed = journal.confirm_signup(db, email, nonce)
    if confirmed is None:
        return None
    signup, now_confirmed = confirmed
    suppression = journal.get_suppression(db, email) if now_confirmed else None
    if suppression is not None and suppression.reason == UNSUBSCRIBED:
        journal.unsuppress(db, email)
    return signup


def with_signups(subscribers: SubscriberList, signups: Iterable[journal.Signup]) -> tuple[SubscriberList, int]:
    """The CSV's list plus the confirmed sign-ups it does not have; and how many were added."""
    listed = {s.key for s in subscribers.subscribers} | {s.key for s in subscribers.unsubscribed}
    added = [Subscriber(s.email, s.name, s.themes) for s in signups if s.email not in listed]
    if not added:
        return subscribers, 0
    return dataclasses.replace(subscribers, subscribers=[*subscribers.subscribers, *added]), len(added)
