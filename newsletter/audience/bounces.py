"""Bounces: read a mailbox of delivery failures, match them to recipients, suppress.

What each message says is `bounceparse.py`'s job (DSNs and plain-text bounces); this
module reads the mailbox, matches each bounce to the recipient and run, and decides.
A bounce is matched by the original `Message-ID` (every message `send` writes has its
own, kept in the journal), else by a VERP return path
(`digest+2023-07.alice=example.org@example.org`, see `verp.py`), else by a failed
address that `send` has mailed. Hard bounces (5.x.x) suppress at once; soft ones
(4.x.x, the server gave up after retrying) suppress after `bounces.soft_limit` in a row.
Each bounce is stored under its own key, so importing the same mailbox again changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import mailbox
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from newsletter import journal
from newsletter.audience.bounceparse import FailedAddress, ParsedBounce, parse_bounce
from newsletter.config.loader import Config
from newsletter.errors import NewsletterError
from newsletter.audience.verp import parse_verp

__all__ = ["HARD_REASON", "SOFT_REASON", "BounceImport", "import_bounces", "read_mailbox"]

HARD_REASON = "hard-bounce"
SOFT_REASON = "soft-bounces"


@dataclass(frozen=True)
class Matched:
    email: str
    run_id: int | None
    failure: FailedAddress


@dataclass
class BounceImport:
    """What an import did, for the report; addresses only, never message contents."""

    messages: int = 0
    hard: list[Matched] = field(default_factory=list)
    soft: list[Matched] = field(default_factory=list)
    suppressed: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)
    already: int = 0  # bounces imported before
    delays: int = 0
    not_bounces: int = 0
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (mailbox key, what it named)


def read_mailbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """(key, raw bytes) of every message in a Maildir (or an mbox file)."""
    path = Path(path)
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise NewsletterError("not a Maildir (no cur/ or new/ folder)", path=path,
                                  hint="point at the Maildir folder that holds cur/, new/ and tmp/")
        box: mailbox.Mailbox = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, factory=None, create=False)
    else:
        raise NewsletterError("no such mailbox", path=path, hint="give the path of a Maildir folder")
    for key in sorted(box.iterkeys()):
        try:
            yield key, box.get_bytes(key)
        except (OSError, KeyError):
            continue  # removed by the mail client while we read: nothing to do


def _received(msg: Message) -> str:
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return journal.now()
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def _pick(failures: tuple[FailedAddress, ...], email: str, run_id: int | None) -> Matched:
    """The failure reported for `email`, or the bounce's first one if it names another address."""
    failure = next((f for f in failures if f.recipient == email), failures[0])
    return Matched(email, run_id, failure)


def _matches(db: sqlite3.Connection, parsed: ParsedBounce, config: Config) -> list[Matched]:
    """Recipient and run by original Message-ID, else VERP return path, else a mailed address."""
    by_id = [found for mid in parsed.original_ids if (found := journal.recipient_for_message_id(db, mid))]
    if by_id:
        return [_pick(parsed.failures, email, run_id) for run_id, email in dict.fromkeys(by_id)]
    for address in parsed.envelope_to:
        verp = parse_verp(address, config.sender_address)
        if verp:
            slug, email = verp
            run_id = (journal.run_id_for_slug(db, slug) if slug else None) or journal.latest_sent_run(db, email)
            return [_pick(parsed.failures, email, run_id)]
    matched = []
    for failure in parsed.failures:
        run_id = journal.latest_sent_run(db, failure.recipient) if failure.recipient else None
        if run_id is not None:
            matched.append(Matched(failure.recipient, run_id, failure))
    return matched


def _worst_per_address(matches: list[Matched]) -> list[Matched]:
    """One failure per address per bounce message: hard wins over soft."""
    best: dict[str, Matched] = {}
    for m in matches:
        if m.email not in best or (m.failure.kind == "hard" and best[m.email].failure.kind == "soft"):
            best[m.email] = m
    return list(best.values())


def import_bounces(db: sqlite3.Connection, source: Path, config: Config) -> BounceImport:
    """Read every message in `source`, record the bounces, suppress hard and repeated soft ones."""
    result = BounceImport()
    for key, raw in read_mailbox(source):
        result.messages += 1
        msg = email.message_from_bytes(raw)
        parsed = parse_bounce(msg)
        if parsed is None:
            result.not_bounces += 1
            continue
        if parsed.delayed:
            result.delays += 1
            continue
        matches = _matches(db, parsed, config)
        if not matches:
            named = ", ".join(f.recipient for f in parsed.failures if f.recipient) or "no address"
            result.unmatched.append((key, named))
            continue
        bounce_id = str(msg.get("Message-ID", "")).strip() or hashlib.sha256(raw).hexdigest()
        for m in _worst_per_address(matches):
            _record(db, result, m, bounce_id, _received(msg), config)
    return result


def _record(db: sqlite3.Connection, result: BounceImport, m: Matched, bounce_id: str, received: str,
            config: Config) -> None:
    failure = m.failure
    new = journal.record_bounce(db, journal.Bounce(
        key=f"{bounce_id}|{m.email}", email=m.email, kind=failure.kind, status=failure.status,
        diagnostic=failure.diagnostic, received=received, run_id=m.run_id,
    ))
    if not new:
        result.already += 1
        return
    if failure.kind == "hard":
        result.hard.append(m)
        if journal.suppress(db, m.email, HARD_REASON, f"bounce:{failure.status}"):
            result.suppressed.append((m.email, HARD_REASON))
        return
    result.soft.append(m)
    count = journal.consecutive_soft_bounces(db, m.email)
    if count >= config.soft_bounce_limit and journal.suppress(
        db, m.email, SOFT_REASON, f"bounce:{failure.status} ({count} in a row)"
    ):
        result.suppressed.append((m.email, SOFT_REASON))
