"""Sign-ups from the subscriber site: who may be mailed a confirmation, and who joins the list.

The site (site/subscribe.py) turns a form into a `SignupRequest` with `read_request` and
appends it with `record_request`, the same work whoever the address is, so the answer's
timing tells nothing. The background sender (site/mailer.py) then asks `claim_mail`
whether a confirmation may go: not to an address suppressed for anything but an
unsubscribe or an erasure, not to one confirmed and still subscribed, not twice an hour
to one mailbox (`mailbox_key`: `+tags` and Gmail's dots fold), and not beyond the hourly
cap. `confirm` confirms the newest mailed request of the address; an unsubscribe (or an
erasure) is lifted only then: coming back always goes through double opt-in.
`with_signups` adds the confirmed sign-ups to the CSV's list for `send`; the CSV's row
wins for an address in both, and suppressions are applied later, as for any row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import unicodedata
from collections.abc import Iterable

from newsletter import journal
from newsletter.addresses import checked_key
from newsletter.audience.subscribers import MAX_NAME, Subscriber, SubscriberList
from newsletter.config import Config, ordered, selection_of
from newsletter.journal import SuppressionReason

__all__ = [
    "GMAIL_DOMAINS", "LIFTED_BY_CONFIRMING", "MAIL_INTERVAL", "SOURCES", "claim_mail",
    "client_network", "clean_name", "confirm", "forget_expired", "mailbox_key", "read_request", "record_request",
    "with_signups",
]

MAIL_INTERVAL = dt.timedelta(hours=1)  # at most one confirmation mail per mailbox in this time
SOURCES = ("page", "snippet", "resubscribe")
# Suppressions a new request may be mailed for (and its confirmation lifts): they left
# themselves, and confirming from their own mailbox is them coming back. An erased
# address is kept only as a hash, which no address lookup meets, so it may come back too.
LIFTED_BY_CONFIRMING = (SuppressionReason.UNSUBSCRIBED,)
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")  # they ignore dots in the local part


def clean_name(name: str) -> str:
    """A name as kept: control and format characters (NUL, ESC, bidi overrides) gone,
    whitespace runs made one space, at most MAX_NAME characters."""
    kept = "".join(" " if c.isspace() else c for c in name if unicodedata.category(c)[0] != "C" or c.isspace())
    return " ".join(kept.split())[:MAX_NAME].strip()


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches: `pat+news@x` and `Pat+1@x` are `pat@x`; on Gmail,
    `p.a.t@googlemail.com` is `pat@gmail.com`. Limits count this, so forty `+tag`
    variants are one mailbox getting one mail."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), GMAIL_DOMAINS[0]
    return f"{local}@{domain}"


def client_network(host: str) -> str:
    """What the per-client limit counts: an IPv4 address as is, an IPv6 address by its /64
    (one subscriber line gets a whole /64, so counting single addresses limits nothing)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def read_request(config: Config, email: str, name: str, themes: Iterable[str], source: str,
                 language: str | None = None) -> journal.SignupRequest:
    """The form's fields as a request; `ValueError` with the reason for an invalid address.
    `language` is kept only when the list offers more than one (one of `config.languages`,
    checked by the site): with one language there is nothing to choose, and a reader
    should not be pinned to it if the officer adds another later."""
    if len(email) > 254:
        raise ValueError("the address is too long")
    address = checked_key(email)
    chosen = ordered(selection_of([t for t in themes if t], config), config) if themes else None
    consent = config.subscribe.consent if config.subscribe else ""
    return journal.SignupRequest(
        email=address,
        name=clean_name(name),
        themes=chosen,
        source=source if source in SOURCES else "page",
        consent=consent,
        language=language if language in config.languages and len(config.languages) > 1 else None,
    )


def record_request(db: journal.Db, request: journal.SignupRequest) -> journal.PendingRequest:
    """Append the request as it was made; nothing about the address is looked up here."""
    return journal.add_request(db, email=request.email, mailbox=mailbox_key(request.email), name=request.name,
                               themes=request.themes, source=request.source, consent=request.consent,
                               language=request.language)


def claim_mail(db: journal.Db, request_id: int, *, hourly_cap: int,
               now: dt.datetime | None = None) -> journal.MailClaim:
    """Whether the request's confirmation mail may go now (claimed if so); see the module."""
    moment = now or dt.datetime.now(dt.UTC)
    since = (moment - MAIL_INTERVAL).isoformat(timespec="seconds")
    return journal.claim_request_mail(db, request_id, not_since=since, hour_start=since, cap=hourly_cap,
                                      mailable=LIFTED_BY_CONFIRMING)


def forget_expired(db: journal.Db, expires_days: int, *, now: dt.datetime | None = None) -> int:
    """Forget the requests whose confirmation link has expired, of addresses never
    confirmed: unconfirmed addresses are not kept longer than their link works."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=expires_days)
    return journal.forget_unconfirmed(db, requested_before=cutoff.isoformat(timespec="seconds"))


def confirm(db: journal.Db, email: str, nonce: str, *,
            erased: Iterable[str] = ()) -> tuple[journal.PendingRequest, bool] | None:
    """Confirm the request a link was made for: the request and whether this confirmed it
    now; None if the link is not the address's newest mailed one.

    The confirmation that confirms lifts an unsubscribe, and the erasure hashes `erased`
    of this address (they came back, from their own mailbox); confirming again changes
    nothing, so an old link never undoes a later unsubscribe.
    """
    confirmed = journal.confirm_request(db, email, nonce)
    if confirmed is None:
        return None
    request, now_confirmed = confirmed
    if now_confirmed:
        suppression = journal.get_suppression(db, email)
        if suppression is not None and suppression.reason == SuppressionReason.UNSUBSCRIBED:
            journal.unsuppress(db, email)
        for key in erased:
            journal.unsuppress(db, key)
    return request, now_confirmed


def with_signups(subscribers: SubscriberList, signups: Iterable[journal.Signup]) -> tuple[SubscriberList, int]:
    """The CSV's list plus the confirmed sign-ups it does not have; and how many were added."""
    listed = {s.key for s in subscribers.subscribers} | {s.key for s in subscribers.unsubscribed}
    added = [Subscriber(s.email, s.name, s.themes) for s in signups if s.email not in listed]
    if not added:
        return subscribers, 0
    return dataclasses.replace(subscribers, subscribers=[*subscribers.subscribers, *added]), len(added)
