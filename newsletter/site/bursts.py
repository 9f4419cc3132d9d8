"""Which hits on counted links are readers: a burst filter that lives in memory only.

Link scanners (mail security gateways, "safe links", preview bots) fetch every link of
a message within seconds of its delivery. A hit is therefore not counted when it
arrives, but held, with the others from the same client on the same issue, for a short
window; when the window closes its hits are counted, or discarded as one:

| what the client did in its window (`WINDOW` s from its first hit)  | counted          |
|--------------------------------------------------------------------|------------------|
| a HEAD request                                                      | never held       |
| followed the hidden canary link (no person can see it)             | none of the hits |
| fetched `BURST_LINKS` or more different links of the issue          | none of the hits |
| anything else (a reader clicking one link twice counts twice)      | every hit        |

A "client" is a keyed hash of the network address and user agent under a key made at
start-up and never written anywhere, so it means nothing after a restart; a window is
forgotten as soon as it closes. At most `MAX_WINDOWS` are open: past that, the oldest
closes early. Nothing here is ever stored: only the counts leave, as (issue, URL) -> n.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["BURST_LINKS", "WINDOW", "BurstFilter", "Counts"]

WINDOW = 20.0  # seconds: a scanner's sweep of one message fits in it; a reader's next click rarely does
BURST_LINKS = 5  # different links in one window: a sweep, not a reader
MAX_WINDOWS = 20_000  # bounds the memory a flood of clients can take

Counts = Counter[tuple[str, str]]


@dataclass
class _Window:
    opened: float
    hits: Counter[str] = field(default_factory=Counter)  # url -> hits
    bot: bool = False


class BurstFilter:
    """Holds hits per (client, issue) for `window` seconds, then counts them or drops them."""

    def __init__(self, *, window: float = WINDOW, burst_links: int = BURST_LINKS,
                 max_windows: int = MAX_WINDOWS) -> None:
        self.window = window
        self.burst_links = burst_links
        self.max_windows = max_windows
        self._key = secrets.token_bytes(32)  # this process's only; gone with it
        self._open: dict[tuple[str, str], _Window] = {}  # insertion order = opening order

    def client(self, address: str, agent: str) -> str:
        """A transient name for a client: the same within this process, unreadable, never stored."""
        return hmac.new(self._key, f"{address}\n{agent}".encode(), hashlib.sha256).hexdigest()[:24]

    def hit(self, client: str, slug: str, url: str, now: float) -> Counts:
        """Hold one GET of a counted link; returns what closed meanwhile (to be counted)."""
        closed = self.closed(now)
        window = self._window(client, slug, now, closed)
        window.hits[url] += 1
        if len(window.hits) >= self.burst_links:
            window.bot = True
        return closed

    def canary(self, client: str, slug: str, now: float) -> Counts:
        """The hidden link was followed: this client's window holds a machine's hits."""
        closed = self.closed(now)
        self._window(client, slug, now, closed).bot = True
        return closed

    def closed(self, now: float) -> Counts:
        """The counts of every window that has closed by `now`, which are forgotten."""
        counts: Counts = Counter()
        for key in [k for k, w in self._open.items() if now - w.opened >= self.window]:
            _add(counts, key[1], self._open.pop(key))
        return counts

    def drain(self) -> Counts:
        """Close every window now (the server is stopping): readers' hits counted, bots' not."""
        counts: Counts = Counter()
        for (_, slug), window in self._open.items():
            _add(counts, slug, window)
        self._open.clear()
        return counts

    @property
    def open_windows(self) -> int:
        return len(self._open)

    def _window(self, client: str, slug: str, now: float, closed: Counts) -> _Window:
        key = (client, slug)
        window = self._open.get(key)
        if window is None:
            while len(self._open) >= self.max_windows:  # the oldest closes early
                oldest = next(iter(self._open))
                _add(closed, oldest[1], self._open.pop(oldest))
            window = self._open[key] = _Window(opened=now)
        return window


def _add(counts: Counts, slug: str, window: _Window) -> None:
    if not window.bot:
        for url, n in window.hits.items():
            counts[(slug, url)] += n
