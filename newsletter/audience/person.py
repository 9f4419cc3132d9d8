"""One person's data on request: "what do you hold about me?" and "forget me" (GDPR 15 and 17).

`person_report` gathers everything held about one address: its rows in the subscriber
CSV and, from the state file, its confirmed sign-up, topics, sign-up requests, consent
history, sends, bounces and suppression. `forget_person` deletes the address from every
table and keeps only a keyed hash of it (HMAC with the token secret) in the suppression
list, which `erased_addresses` matches against any list a send or export meets: a later
CSV or CRM import cannot mail them again. The erasure is logged by its hash and row
count, never the address. The CSV is the officer's file: it is read, never rewritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from newsletter import journal
from newsletter.addresses import check_address
from newsletter.audience.subscribers import Subscriber, read_subscribers
from newsletter.config import Config
from newsletter.errors import NewsletterError
from newsletter.tokens import erasure_key, token_keys

__all__ = ["Forgotten", "PersonReport", "erased_addresses", "forget_person", "person_report"]

log = logging.getLogger("newsletter.person")


@dataclasses.dataclass(frozen=True)
class PersonReport:
    """Everything held about one address, by where it is held."""

    email: str
    csv_rows: list[dict[str, Any]]  # the subscriber CSV's rows for it (line, name, status, themes)
    records: dict[str, list[dict[str, Any]]]  # state-file table -> its rows
    erased: bool  # the address was erased before (its hash is in the suppression list)

    @property
    def held(self) -> int:
        return len(self.csv_rows) + sum(len(rows) for rows in self.records.values())

    def as_json(self) -> dict[str, Any]:
        return {"email": self.email, "erased": self.erased, "subscriber_csv": self.csv_rows, **self.records}


@dataclasses.dataclass(frozen=True)
class Forgotten:
    """What an erasure removed, and what it kept (the hash)."""

    removed: dict[str, int]
    erased_key: str
    csv_lines: list[int]  # lines of the subscriber CSV that still list the address

    @property
    def rows(self) -> int:
        return sum(self.removed.values())


def _address(email: str) -> str:
    try:
        return check_address(email).strip().lower()
    except ValueError as exc:
        raise NewsletterError(f"not an email address: {email!r} ({exc})",
                              hint="give the address exactly as the person wrote it") from exc


def _csv_rows(config: Config, email: str, subscribers: Path | None) -> list[dict[str, Any]]:
    path = subscribers or config.subscribers_file
    if not path.exists():
        return []
    listed = read_subscribers(path)

    def row(s: Subscriber, status: str) -> dict[str, Any]:
        return {"file": str(path), "line": s.line, "name": s.name, "status": status,
                "themes": list(s.themes) if s.themes is not None else None}

    return ([row(s, "subscribed") for s in listed.subscribers if s.key == email]
            + [row(s, "unsubscribed") for s in listed.unsubscribed if s.key == email])


def _keys(config: Config) -> list[bytes]:
    return token_keys(config)


def person_report(config: Config, email: str, *, subscribers: Path | None = None) -> PersonReport:
    """Everything held about `email`; reads only."""
    address = _address(email)
    with contextlib.closing(journal.connect(config.state)) as db:
        records = journal.person_records(db, address)
        erased = bool({erasure_key(k, address) for k in _keys(config)} & journal.erased_keys(db))
    return PersonReport(address, _csv_rows(config, address, subscribers), records, erased)


def forget_person(config: Config, email: str, *, subscribers: Path | None = None) -> Forgotten:
    """Erase `email` from the state, keeping its keyed hash suppressed; logs by hash."""
    address = _address(email)
    key = erasure_key(_keys(config)[0], address)
    with contextlib.closing(journal.connect(config.state)) as db:
        removed = journal.forget_address(db, address, key)
        journal.record_erasure(db, key, sum(removed.values()))
    log.info("erased one address (%s): %d rows", key, sum(removed.values()))
    lines = [row["line"] for row in _csv_rows(config, address, subscribers)]
    return Forgotten(removed, key, lines)


def erased_addresses(db: journal.Db, config: Config, addresses: Iterable[str]) -> set[str]:
    """Which of `addresses` (keys) were erased: their hash, under any current or old
    token secret, is in the suppression list."""
    erased = journal.erased_keys(db)
    if not erased:
        return set()
    keys = _keys(config)
    return {a for a in addresses if any(erasure_key(k, a) in erased for k in keys)}
