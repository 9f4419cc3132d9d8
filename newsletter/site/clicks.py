"""The counted-link route: `/r/<issue>/<link>` redirects to the item's URL and counts the hit.

`<link>` carries the URL and a short MAC (`tokens.read_click_link`), so the route only
ever redirects to a URL `build` signed for that issue: a forged, altered or other-issue
link gets the generic 404 page, never a redirect (no open redirect). The answer is a 302
with `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (app.py's headers), no
cookie, no page.

Counting is the one exception to "a GET never changes state", and only for an anonymous
counter: a GET adds one to the link's number once `BurstFilter` (bursts.py) has judged
its window a reader's. HEAD requests are answered like GET but never counted. The hidden
canary link answers 204 and marks its client's window as a machine's. Nothing about
the reader is stored: the network address and user agent only feed the in-memory filter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter import journal
from newsletter.errors import ConfigError
from newsletter.site.bursts import BurstFilter, Counts
from newsletter.site.pages import SubscriberSite, site_of
from newsletter.tokens import CANARY, read_click_link

__all__ = ["ClickCounter", "click_lifespan", "click_routes"]

_SLUG_RE = re.compile(r"\A[A-Za-z0-9_-]{1,80}\Z")
log = logging.getLogger("newsletter.clicks")


class ClickCounter:
    """The app's burst filter and clock; what closes is added to the state's counts
    (`unsaved` holds counts a busy or missing state file refused, for the next try)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, bursts: BurstFilter | None = None) -> None:
        self.clock = clock
        self.bursts = bursts or BurstFilter()
        self.unsaved: Counts = Counter()


async def _store(app: Starlette, counts: Counts) -> None:
    """Add `counts` (and any left unsaved) to the state; never raises: counting must not
    break a reader's redirect, and a count that cannot be written now is tried again."""
    counter: ClickCounter = app.state.clicks
    counter.unsaved += counts
    if not counter.unsaved:
        return
    pending, counter.unsaved = counter.unsaved, Counter()
    site: SubscriberSite = app.state.site
    try:
        await site.run(lambda db: journal.add_clicks(db, pending))
    except Exception:  # any failure of the state file: keep the numbers, log, go on
        counter.unsaved += pending
        log.exception("could not store click counts; they are kept in memory for the next try")


async def follow(request: Request) -> Response:
    """GET or HEAD `/r/<slug>/<link>`: 302 to the signed URL; a GET is held for counting."""
    site = site_of(request)
    slug, link = request.path_params["slug"], request.path_params["link"]
    try:
        keys = site.keys()
    except ConfigError:  # the secret went away while serving: no redirect, say why in the log
        log.exception("cannot read the token secret; counted links are refused until it is back")
        keys = []
    url = read_click_link(link, slug, site.config.list_id, keys) if _SLUG_RE.match(slug) else None
    if url is None:
        return site.page("invalid", status=404)
    counter: ClickCounter = request.app.state.clicks
    bursts = counter.bursts
    closed: Counts | None = None
    if request.method == "GET":
        client = bursts.client(request.client.host if request.client else "", request.headers.get("user-agent", ""))
        now = counter.clock()
        closed = bursts.canary(client, slug, now) if url == CANARY else bursts.hit(client, slug, url, now)
    if closed or counter.unsaved:
        await _store(request.app, closed or Counter())
    if url == CANARY:
        return Response(status_code=204)
    return RedirectResponse(url, status_code=302)


async def _flush_every(app: Starlette, counter: ClickCounter) -> None:
    """Close windows as they expire even when no further hit arrives."""
    while True:
        await asyncio.sleep(counter.bursts.window / 2)
        await _store(app, counter.bursts.closed(counter.clock()))


@contextlib.asynccontextmanager
async def click_lifespan(app: Starlette) -> AsyncIterator[None]:
    """Flush closed windows while serving; at shutdown, count the readers' open windows too."""
    counter: ClickCounter = app.state.clicks
    task = asyncio.create_task(_flush_every(app, counter))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await _store(app, counter.bursts.drain())


def click_routes() -> list[BaseRoute]:
    """GET (and HEAD, which Starlette adds and `follow` never counts)."""
    return [Route("/r/{slug}/{link}", follow, methods=["GET"])]
