"""Counted links: how many readers followed each link of an issue, and nothing about who.

The `clicks` table holds one number per (issue, URL). The subscriber site adds to it
once its in-memory bot filter has let a burst of hits through (`site/bursts.py`); the
report reads it. No address, network address, user agent or time of a click is ever
written, so there is nothing here to join against the subscriber list.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from newsletter.journal.db import transaction

__all__ = ["add_clicks", "click_counts"]


def add_clicks(db: sqlite3.Connection, counts: Mapping[tuple[str, str], int]) -> None:
    """Add each (slug, url) -> n to the stored counts, in one transaction."""
    rows = [(slug, url, n) for (slug, url), n in counts.items() if n > 0]
    if not rows:
        return
    with transaction(db):
        db.executemany(
            "INSERT INTO clicks (slug, url, hits) VALUES (?, ?, ?) "
            "ON CONFLICT (slug, url) DO UPDATE SET hits = clicks.hits + excluded.hits",  # PostgreSQL reads it too
            rows,
        )


def click_counts(db: sqlite3.Connection, slug: str) -> dict[str, int]:
    """URL -> clicks counted for issue `slug` (links nobody followed are absent)."""
    return {url: n for url, n in db.execute("SELECT url, hits FROM clicks WHERE slug = ?", (slug,))}
