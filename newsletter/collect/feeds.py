"""Feeds in: download (conditional GET) and parse RSS 0.9x/1.0/2.0 and Atom entries.

`fetch_feed` is the only network I/O: one GET with a per-source timeout, sending the
ETag / Last-Modified remembered from the last run, so an unchanged feed answers 304 and
nothing is downloaded (the caller re-reads the body it kept). `parse_feed` never lets
feedparser open anything itself: it gets bytes, so a feed cannot make us read a
`file://` URL or fetch another page. Entries come out as `FeedEntry` values with a
Markdown summary; turning them into item files is `run.py`'s job.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import httpx

from newsletter.collect.feedhtml import (
    Picture,
    Summary,
    convert_html,
    plain_text,
    strip_tracking,
    text_to_html,
)
from newsletter.errors import CollectError
from newsletter.journal import FeedCache

__all__ = [
    "MAX_BYTES",
    "Download",
    "Feed",
    "FeedEntry",
    "fetch_feed",
    "is_web_url",
    "link_label",
    "parse_feed",
    "read_feed_file",
]

MAX_BYTES = 5 * 1024 * 1024  # a feed larger than this is not a news feed
USER_AGENT = "newsletter-collect/0.1"
ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"

# "Read the <kind>": the first of these words found in an entry's categories or title.
_KINDS = {
    "consultation": "consultation", "report": "report", "briefing": "briefing",
    "guidance": "guidance", "review": "review", "research": "research",
    "evaluation": "evaluation", "toolkit": "toolkit", "statistics": "statistics",
    "podcast": "podcast episode", "webinar": "webinar", "blog": "blog post",
    "speech": "speech", "press release": "press release", "news": "news story",
}
DEFAULT_KIND = "article"


@dataclass(frozen=True)
class Download:
    """A feed's bytes and the validators to send next time; `status` 304 = the kept body."""

    url: str
    status: int
    body: bytes
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def cache(self) -> FeedCache:
        return FeedCache(self.url, self.etag, self.last_modified, self.content_type, self.body)


@dataclass(frozen=True)
class FeedEntry:
    position: int  # 1-based, for messages ("entry 3")
    guid: str
    title: str
    link: str  # an http(s) URL, or "" if the entry has none
    date: dt.date | None  # published, else updated, in the publisher's own time zone
    summary: Summary
    tags: tuple[str, ...]

    @property
    def image(self) -> Picture | None:
        return self.summary.pictures[0] if self.summary.pictures else None


@dataclass(frozen=True)
class Feed:
    title: str
    entries: tuple[FeedEntry, ...]
    warning: str | None = None  # the feed is not well-formed but entries could be read


def is_web_url(url: str) -> bool:
    return bool(re.match(r"^https?://[^/\s]", url.strip(), re.IGNORECASE))


# --- downloading ----------------------------------------------------------------------


def fetch_feed(url: str, *, timeout: float, cached: FeedCache | None = None) -> Download:
    """GET `url` within `timeout` seconds in all (connect, headers and body together: a server
    that drips one header line a second cannot hold it longer); 304 gives back the cached body."""
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    if cached and cached.etag:
        headers["If-None-Match"] = cached.etag
    if cached and cached.last_modified:
        headers["If-Modified-Since"] = cached.last_modified
    try:
        return asyncio.run(_get_within(url, headers, timeout, cached))
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise CollectError(f"timed out after {timeout:g} s", path=url,
                           hint="try again later, or allow longer with --timeout") from exc
    except httpx.TooManyRedirects as exc:
        raise CollectError("too many redirects", path=url, hint="open the URL in a browser and copy the final address") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise CollectError(f"cannot download: {exc or type(exc).__name__}", path=url,
                           hint="check the address and your network connection") from exc


async def _get_within(url: str, headers: dict[str, str], timeout: float, cached: FeedCache | None) -> Download:
    """One deadline over the whole request; httpx's own timeouts bound each read only."""
    async with httpx.AsyncClient(follow_redirects=True, max_redirects=5, timeout=timeout) as client:
        async with asyncio.timeout(timeout):  # after the client's set-up (TLS certificates), before any I/O
            return await _get(client, url, headers, cached)


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str], cached: FeedCache | None) -> Download:
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 304 and cached is not None:
            return Download(url, 304, cached.body, cached.content_type,
                            response.headers.get("etag", cached.etag),
                            response.headers.get("last-modified", cached.last_modified))
        if response.status_code >= 400 or response.status_code == 304:
            raise CollectError(f"HTTP {response.status_code} {response.reason_phrase}".strip(), path=url,
                               hint=_status_hint(response.status_code))
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise CollectError(f"larger than {MAX_BYTES // 1024 // 1024} MB", path=url,
                                   hint="is this really a news feed?")
            chunks.append(chunk)
        return Download(url, response.status_code, b"".join(chunks),
                        response.headers.get("content-type", ""),
                        response.headers.get("etag", ""), response.headers.get("last-modified", ""))


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the site refuses us; the feed may need a login or block unknown clients"
    if status in (404, 410):
        return "the feed has moved or gone; find its new address on the site"
    if status >= 500:
        return "the site has a problem; try again later"
    return "open the URL in a browser to see what it returns"


def read_feed_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CollectError(f"cannot read: {exc.strerror}", path=path,
                           hint="check the file name, or give an https:// URL") from exc
    if len(data) > MAX_BYTES:
        raise CollectError(f"larger than {MAX_BYTES // 1024 // 1024} MB", path=path, hint="is this really a feed?")
    return data


# --- parsing --------------------------------------------------------------------------


def parse_feed(body: bytes, *, where: str, url: str | None = None, content_type: str = "") -> Feed:
    """Entries of an RSS/Atom document; `CollectError` if nothing feed-like is in it."""
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if url:
        headers["content-location"] = url  # base for relative links in the feed
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, feedparser.ThingsNobodyCaresAboutButMe):
        problem = None  # e.g. served as text/xml without a charset: the text still came out right
    if not parsed.entries and (problem is not None or not parsed.get("version")):
        reason = _first_line(problem) if problem is not None else "no RSS or Atom feed found"
        line = getattr(problem, "getLineNumber", lambda: None)()
        raise CollectError(f"not a readable feed: {reason}", path=where, line=line,
                           hint="check that the address gives an RSS or Atom feed, not a web page")
    feed_date = _entry_date(parsed.feed)  # for RSS 0.91 items, which have no date of their own
    entries = tuple(_entry(i, raw, feed_date) for i, raw in enumerate(parsed.entries, 1))
    title = _text(parsed.feed.get("title", ""), parsed.feed.get("title_detail"))
    warning = f"feed is not well-formed ({_first_line(problem)}); read what could be read" if problem else None
    return Feed(title, entries, warning)


def _first_line(problem: Any) -> str:
    """The parser's complaint without its `<unknown>:4:19:` prefix (the line is kept apart)."""
    text = problem.getMessage() if hasattr(problem, "getMessage") else str(problem)
    return (text.strip().splitlines() or [type(problem).__name__])[0]


def _text(value: str, detail: Any) -> str:
    """A title as plain text: feedparser leaves markup in `type="html"` titles."""
    if detail is not None and "html" in str(detail.get("type", "")):
        return plain_text(value)
    return " ".join(value.split())


def _entry(position: int, raw: Any, feed_date: dt.date | None) -> FeedEntry:
    title = _text(raw.get("title", ""), raw.get("title_detail"))
    link = strip_tracking(raw.get("link", "").strip()) if is_web_url(raw.get("link", "")) else ""
    guid = str(raw.get("id") or raw.get("link") or "").strip()
    tags = tuple(dict.fromkeys(t.strip() for tag in raw.get("tags", [])
                               for t in (tag.get("term") or "", tag.get("label") or "") if t.strip()))
    return FeedEntry(position, guid, title, link, _entry_date(raw) or feed_date, _summary(raw), tags)


def _summary(raw: Any) -> Summary:
    """The description (RSS) or summary (Atom), else the full content, as Markdown."""
    candidates = [(raw.get("summary", ""), raw.get("summary_detail"))]
    candidates += [(c.get("value", ""), c) for c in raw.get("content", [])]
    for value, detail in candidates:
        if value and value.strip():
            markup = value if detail is None or "html" in str(detail.get("type", "html")) else text_to_html(value)
            summary = convert_html(markup)
            if summary.markdown:
                return summary
    return convert_html("")


def _entry_date(raw: Any) -> dt.date | None:
    """The date as the publisher wrote it (their time zone), falling back to feedparser's UTC."""
    for key in ("published", "updated", "created", "date"):
        text = (raw.get(key) or "").strip()
        if not text:
            continue
        day = _date_from_text(text)
        if day is None and raw.get(f"{key}_parsed"):
            day = dt.date(*raw[f"{key}_parsed"][:3])
        if day is not None:
            return day
    return None


def _date_from_text(text: str) -> dt.date | None:
    try:
        return email.utils.parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        return None


def link_label(title: str, tags: tuple[str, ...] = ()) -> str:
    """"Read the briefing" for "A research briefing on ..." (the last kind word in the title
    is usually the noun), a kind from the categories first; "Read the article" otherwise."""
    for tag in tags:
        kind = _KINDS.get(tag.strip().casefold())
        if kind:
            return f"Read the {kind}"
    words = title.casefold()
    found = [(m.start(), kind) for word, kind in _KINDS.items()
             for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", words)]
    return f"Read the {max(found)[1] if found else DEFAULT_KIND}"
