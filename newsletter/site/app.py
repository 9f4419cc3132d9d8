"""The subscriber-facing web app: the unsubscribe, topics and sign-up pages behind one guard.

`newsletter serve` (alias `unsubscribe-server`) serves `create_app(config)`: a body cap and security
headers on every response, no cookies, tokens blanked in the access log.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter.config import Config
from newsletter.issue import template_environment
from newsletter.site.pages import BASE_CSP, MAX_BODY_BYTES, SubscriberSite
from newsletter.site.preferences import preferences_routes
from newsletter.site.subscribe import subscribe_routes
from newsletter.site.unsubscribe import unsubscribe_routes
from newsletter.tokens import token_keys

__all__ = ["TokenRedactor", "create_app", "routes"]


def routes(config: Config) -> list[BaseRoute]:
    """Every page of the site; the topics page only when `preferences_url` is set, the
    sign-up page only with a `subscribe:` block."""
    return [*unsubscribe_routes(config), *preferences_routes(config), *subscribe_routes(config)]


class _Guard:
    """Caps the request body and adds security headers to every response (never cookies)."""

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

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
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


class _TooLarge(Exception):
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


def create_app(config: Config, *, keys: list[bytes] | None = None, state_file: Path | None = None,
               today: Callable[[], dt.date] = dt.date.today) -> Starlette:
    """The unsubscribe server for `config`; keys default to the ones `send` signs with.

    The keys are worked out again for every request (`today()` decides whether old secrets
    are still in their grace period), and once now, so a bad secret fails at start-up. With
    no secret set anywhere, the `.newsletter-secret` that `send` makes (or this makes first)
    is read, so the links a send signs are the ones this accepts.
    """

    def current_keys() -> list[bytes]:
        return list(keys) if keys is not None else token_keys(config, today=today())

    current_keys()
    site = SubscriberSite(
        config=config,
        keys=current_keys,
        state_file=state_file or config.state_file,
        templates=template_environment(config),
    )
    with site.db():
        pass  # create the state file and its tables now, so a bad path fails at start-up
    app = _SiteApp(routes=routes(config))
    app.add_middleware(_Guard)
    app.state.site = site
    return app
