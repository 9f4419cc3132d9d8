"""Readers' languages on a bilingual list: chosen on the site, and what each send planned.

`language_choices` holds one row per address that chose a language on the subscriber
site: on the sign-up form (written when the sign-up is confirmed, never before: an
unconfirmed request is nobody's choice yet) or on the topics page (`source` says which,
the newest wins). It wins over the subscriber CSV's `language` column, as a topic
choice saved on the site wins over its `themes` column. `recipients.language` keeps the
version each send planned, so the site can show a reader their language even when the
CSV lives on another machine (as `latest_recipient_themes` does for topics).
Tags are stored as the config spells them; the site checks them before they get here.
"""

from __future__ import annotations

from newsletter.addresses import address_key
from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction

__all__ = ["all_languages", "get_language", "latest_recipient_language", "save_language", "set_language"]

SOURCES = ("signup", "page")


def save_language(db: Db, email: str, language: str, *, source: str, at: str | None = None) -> None:
    """Write the choice inside the caller's transaction (a confirmation writes it with its
    consent event, so both are there or neither)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source of a language choice: {source!r}")
    db.execute("INSERT INTO language_choices (email, language, source, updated) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (email) DO UPDATE SET language = excluded.language, source = excluded.source, "
               "updated = excluded.updated", (address_key(email), language, source, at or now()))


def set_language(db: Db, email: str, language: str, *, source: str = "page") -> None:
    """Save a reader's choice of language (the topics page), in a transaction of its own."""
    with transaction(db):
        save_language(db, email, language, source=source)


def get_language(db: Db, email: str) -> str | None:
    """The language the reader chose on the site, or None if they never chose one."""
    row = db.execute("SELECT language FROM language_choices WHERE email = ?", (address_key(email),)).fetchone()
    return None if row is None else str(row[0])


def all_languages(db: Db) -> dict[str, str]:
    """Every choice made on the site: address key -> language (for the resolved audience)."""
    return {row[0]: row[1] for row in db.execute("SELECT email, language FROM language_choices")}


def latest_recipient_language(db: Db, email: str) -> str | None:
    """The language the newest run planned for this address; None = the config's, or no run yet."""
    row = db.execute("SELECT language FROM recipients WHERE email = ? ORDER BY run_id DESC LIMIT 1",
                     (address_key(email),)).fetchone()
    return None if row is None or not row[0] else str(row[0])
