"""The subscriber-facing web app: unsubscribe, topics, sign-up and counted links behind one guard.

`newsletter serve` (alias `unsubscribe-server`) serves `create_app(config)`: a body cap and security
headers on every response, no cookies, tokens blanked in the access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter import journal
from newsletter.config import Config, route_path
from newsletter.issue import template_environment
from newsletter.send import SignupMailer, scrub
from newsletter.site.clicks import ClickCounter, click_lifespan, click_routes
from newsletter.site.pages import BASE_CSP, MAX_BODY_BYTES, SubscriberSite
from newsletter.site.preferences import preferences_routes
from newsletter.site.subscribe import subscribe_routes
from newsletter.site.unsubscribe import unsubscribe_routes
from newsletter.tokens import token_keys

BODY_TIMEOUT = 10.0  # seconds to wait for each part of a request body (a dripping client)

__all__ = ["AddressRedactor", "TokenRedactor", "create_app", "routes"]


def routes(config: Config) -> list[BaseRoute]:
    """Every page of the site; the topics page only when `preferences_url` is set, the
    sign-up page only with a `subscribe:` block. Counted links (`/r/`) are always answered:
    links already in inboxes keep working after `tracking.clicks` is turned off."""
    return [*unsubscribe_routes(config), *preferences_routes(config), *subscribe_routes(config), *click_routes()]


class _Guard:
    """Caps the request body (size, and BODY_TIMEOUT between its parts) and adds security
    headers to every response (never cookies)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_body:
            await PlainTextResponse("Request body too large\n", status_code=413)(scope, receive, send)
            return
        received = 0
        started = False
        complete = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body: waiting for a disconnect, as long as it takes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), BODY_TIMEOUT)
            except TimeoutError:
                raise _TooSlow from None
            complete = not message.get("more_body", False)
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise _TooLarge
            return message

        async def secure_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, secure_send)
        except _TooLarge:
            if started:
                raise
            await PlainTextResponse("Request body too large\n", status_code=413)(scope, receive, secure_send)
        except _TooSlow:
            if started:
                raise
            await PlainTextResponse("Request body too slow\n", status_code=408)(scope, receive, secure_send)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


_SECURITY_HEADERS = {
    b"cache-control": b"no-store",
    b"referrer-policy": b"no-referrer",  # the token is in the URL
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"x-robots-tag": b"noindex, nofollow",
    b"content-security-policy": BASE_CSP.encode(),
}


def _secure_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() != b"set-cookie"]
    present = {k.lower() for k, _ in kept}
    return kept + [(k, v) for k, v in _SECURITY_HEADERS.items() if k not in present]


class _Stamp:
    """Adds the security headers to every response, the framework's own 500 page included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _secure_headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, stamped if scope["type"] == "http" else send)


class _SiteApp(Starlette):
    """Starlette with `_Stamp` outside its error handler, which user middleware never is."""

    def build_middleware_stack(self) -> ASGIApp:
        return _Stamp(super().build_middleware_stack())


class TokenRedactor(logging.Filter):
    """Blanks `t=<token>` in uvicorn's access log: a token unsubscribes whoever holds it."""

    _TOKEN = re.compile(r"([?&]t=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1...", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1...", record.msg)
        return True


def _slash_redirects(config: Config) -> list[BaseRoute]:
    """`/subscribe/` and the like redirect to the page's configured address: built from
    the config, never from the request's `Host` header (Starlette's own redirect is off)."""
    pages = [config.unsubscribe_url, config.preferences_url, config.subscribe.url if config.subscribe else None]
    redirects: list[BaseRoute] = []
    for url in filter(None, pages):
        path = route_path(url)
        if path != "/":

            async def redirect(request: Request, target: str = url) -> Response:
                query = request.url.query
                return RedirectResponse(f"{target}?{query}" if query else target, status_code=308)

            redirects.append(Route(f"{path}/", redirect, methods=["GET", "POST"]))
    return redirects


class AddressRedactor(logging.Filter):
    """Blanks email addresses in a log line (a relay's reply, an exception): the log of the
    subscriber site names nobody."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):  # each argument on its own: formatters unpack them
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


def create_app(config: Config, *, keys: list[bytes] | None = None, state: journal.StateLocation | None = None,
               today: Callable[[], dt.date] = dt.date.today, mail_retry_delay: float = 30.0,
               clicks: ClickCounter | None = None) -> Starlette:
    """The unsubscribe server for `config`; keys default to the ones `send` signs with.

    The keys are worked out again for every request (`today()` decides whether old secrets
    are still in their grace period), and once now, so a bad secret fails at start-up. With
    no secret set anywhere, the `.newsletter-secret` that `init` or `send` made is read, so
    the links a send signs are the ones this accepts; when it is missing too, this refuses
    (ConfigError) instead of making one that every mailed link would fail against. `clicks`
    holds the counted links' in-memory bot filter and its clock (tests pass their own clock).
    """

    def current_keys() -> list[bytes]:
        return list(keys) if keys is not None else token_keys(config, today=today())

    current_keys()
    state = state or config.state
    mailer = SignupMailer(config, state, current_keys, retry_delay=mail_retry_delay)
    site = SubscriberSite(
        config=config,
        keys=current_keys,
        state=state,
        templates=template_environment(config),
        mailer=mailer,
    )
    with site.db():
        pass  # create the state file and its tables now, so a bad path fails at start-up

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(mailer.resume)  # what a stopped server left unsent
        async with click_lifespan(app):  # counted links: flushed while serving, the rest at the end
            yield
        await run_in_threadpool(mailer.close)  # let queued mails go before the server exits

    app = _SiteApp(routes=[*routes(config), *_slash_redirects(config)], lifespan=lifespan)
    app.router.redirect_slashes = False
    app.add_middleware(_Guard)
    app.state.site = site
    app.state.clicks = clicks or ClickCounter()
    return app
