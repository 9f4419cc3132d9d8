"""What `collect` and `check --links` remember between runs, so repeating them costs little.

The feed cache (validators and body for a conditional GET), the keys of everything
collected before (so an item deleted by hand is not collected again), and one day of
link-check answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from newsletter.journal.backend import Db
from newsletter.journal.db import now, transaction

__all__ = [
    "CachedLink",
    "FeedCache",
    "collected_keys",
    "get_feed_cache",
    "get_link_checks",
    "put_feed_cache",
    "put_link_checks",
    "record_collected",
]


@dataclass(frozen=True)
class FeedCache:
    """What `collect` last downloaded from a feed: validators for a conditional GET, and
    the body itself, so a 304 can be re-read for a different date range."""

    url: str
    etag: str
    last_modified: str
    content_type: str
    body: bytes


def get_feed_cache(db: Db, url: str) -> FeedCache | None:
    row = db.execute("SELECT url, etag, last_modified, content_type, body FROM feed_cache WHERE url = ?",
                     (url,)).fetchone()
    return None if row is None else FeedCache(row[0], row[1], row[2], row[3], bytes(row[4]))


def put_feed_cache(db: Db, cache: FeedCache) -> None:
    with transaction(db):
        db.execute(
            "INSERT INTO feed_cache (url, etag, last_modified, content_type, body, updated) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, content_type = excluded.content_type, "
            "body = excluded.body, updated = excluded.updated",
            (cache.url, cache.etag, cache.last_modified, cache.content_type, cache.body, now()),
        )


def collected_keys(db: Db) -> set[str]:
    """Every guid/link key `collect` has written an item for, even if the file is gone."""
    return {row[0] for row in db.execute("SELECT key FROM collected")}


def record_collected(db: Db, keys: Iterable[str], *, source: str, file: str) -> None:
    with transaction(db):
        db.executemany(
            "INSERT INTO collected (key, source, file, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(key, source, file, now()) for key in keys],
        )


@dataclass(frozen=True)
class CachedLink:
    """A link `check --links` got an HTTP answer for: status, where it ended, the hops."""

    url: str
    status: int
    final_url: str
    redirects: tuple[str, ...]
    checked: str  # ISO timestamp, UTC


def get_link_checks(db: Db, urls: Iterable[str], *, since: str) -> dict[str, CachedLink]:
    """The cached answers for `urls` checked at or after `since` (ISO timestamp)."""
    found: dict[str, CachedLink] = {}
    for url in set(urls):
        row = db.execute("SELECT url, status, final_url, redirects, checked FROM link_checks "
                         "WHERE url = ? AND checked >= ?", (url, since)).fetchone()
        if row is not None:
            found[url] = CachedLink(row[0], row[1], row[2], tuple(r for r in row[3].split("\n") if r), row[4])
    return found


def put_link_checks(db: Db, links: Iterable[CachedLink]) -> None:
    with transaction(db):
        db.executemany(
            "INSERT INTO link_checks (url, status, final_url, redirects, checked) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET status = excluded.status, final_url = excluded.final_url, "
            "redirects = excluded.redirects, checked = excluded.checked",
            [(c.url, c.status, c.final_url, "\n".join(c.redirects), c.checked) for c in links],
        )
