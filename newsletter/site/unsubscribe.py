"""The subscriber-facing web app: one-click unsubscribe (RFC 8058), confirm, resubscribe.

Served at the path of `unsubscribe.url` (default `/unsubscribe`), with the token in
`?t=`. `GET` only shows a page (mail scanners follow links, so it never changes state);
`POST` with `List-Unsubscribe=One-Click` (the mail client's button) or from the page's
button unsubscribes at once. A bad token of any kind gets the same generic page.
No cookies, no login, no CSRF token: RFC 8058 wants a plain POST, and the token itself
is the proof. Unsubscribes land in the state file's suppression list that `send` reads.

To add a page (e.g. theme preferences), write `async def page(request)` that calls
`site_of(request)` for the `SubscriberSite` (token check, state file, templates) and
add a `Route` to `routes()`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsletter import journal
from newsletter.config.loader import Config
from newsletter.issue.render import template_environment
from newsletter.tokens import read_token, token_keys

__all__ = [
    "MAX_BODY_BYTES",
    "SubscriberSite",
    "TokenRedactor",
    "create_app",
    "routes",
    "site_of",
    "token_of",
    "unsubscribe_path",
]

MAX_BODY_BYTES = 16 * 1024  # a one-click body is 26 bytes; the page's form a few hundred
UNSUBSCRIBED = "unsubscribed"  # the suppression reason for every web unsubscribe
log = logging.getLogger("newsletter.unsubscribe")
T = TypeVar("T")

_BASE_CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
_STYLE_RE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True)
class SubscriberSite:
    """What every subscriber page needs: config, token keys, the state file, templates."""

    config: Config
    keys: tuple[bytes, ...]
    state_file: Path
    templates: jinja2.Environment

    def address(self, token: str | None) -> str | None:
        """The subscriber a token belongs to, or None for any kind of bad token."""
        return read_token(token, self.config.list_id, list(self.keys)) if token else None

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection; WAL and the busy timeout let `send` write meanwhile."""
        conn = journal.connect(self.state_file)
        try:
            yield conn
        finally:
            conn.close()

    async def run(self, func: Callable[[sqlite3.Connection], T]) -> T:
        """Run `func(db)` in a worker thread so a locked database never blocks the server."""

        def call() -> T:
            with self.db() as conn:
                return func(conn)

        return await run_in_threadpool(call)

    def page(self, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """Render `unsubscribe/<name>.html`."""
        return self.render(f"unsubscribe/{name}.html", status=status, **context)

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """Any subscriber page, with the list's name, language, colours and mailto; its inline
        styles are allowed by hash in the CSP (the preferences pages use it too)."""
        config = self.config
        body = self.templates.get_template(template).render(
            name=config.name, lang=config.language, colors=config.colors,
            mailto=config.unsubscribe_mailto, **context,
        )
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": _csp(body)})

    def invalid(self) -> HTMLResponse:
        """The one answer for every bad link: it says nothing about why."""
        return self.page("invalid", status=400)


def _csp(body: str) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
        for style in _STYLE_RE.findall(body)
    )
    return f"{_BASE_CSP}; style-src {hashes}" if hashes else _BASE_CSP


def site_of(request: Request) -> SubscriberSite:
    site: SubscriberSite = request.app.state.site
    return site


async def _form(request: Request) -> FormData:
    """The POSTed form (urlencoded or multipart, per RFC 8058); empty if unreadable."""
    try:
        return await request.form(max_files=0, max_fields=8, max_part_size=4096)
    except HTTPException:
        return FormData()


def token_of(request: Request, form: FormData | None = None) -> str | None:
    """The signed token from `?t=`, else from the POSTed form's `t` field."""
    token = request.query_params.get("t")
    if not token and form is not None:
        value = form.get("t")
        token = value if isinstance(value, str) else None
    return token


async def unsubscribe_page(request: Request) -> Response:
    """GET: the confirmation page (or the done page if already unsubscribed); no writes."""
    site = site_of(request)
    token = token_of(request)
    email = site.address(token)
    if email is None:
        return site.invalid()
    suppressed = await site.run(lambda db: journal.is_suppressed(db, email))
    from newsletter.site.preferences import topics_link  # "choose your topics instead" (issue 9), with preferences_url

    return site.page("done" if suppressed else "confirm", email=email, token=token,
                     topics=topics_link(site.config, token))


async def unsubscribe_action(request: Request) -> Response:
    """POST: one-click (`List-Unsubscribe=One-Click`), the page's button, or resubscribe."""
    site = site_of(request)
    form = await _form(request)
    token = token_of(request, form)
    email = site.address(token)
    if email is None:
        return site.invalid()
    action = form.get("action")
    if action == "resubscribe":
        await site.run(lambda db: journal.unsuppress(db, email))
        log.info("resubscribed via the web page")
        return site.page("resubscribed", email=email, token=token)
    # Anything else with a valid token is an unsubscribe: the page's button says so, and
    # a one-click POST is honoured even if a client garbles the List-Unsubscribe body.
    source = "web" if action == "unsubscribe" else "one-click"
    await site.run(lambda db: journal.suppress(db, email, UNSUBSCRIBED, source))
    log.info("unsubscribed (%s)", source)
    return site.page("done", email=email, token=token)


async def healthz(request: Request) -> Response:
    """For the reverse proxy or a monitor: the app is up and the state file opens."""
    await site_of(request).run(lambda db: db.execute("SELECT 1").fetchone())
    return PlainTextResponse("ok\n")


def unsubscribe_path(config: Config) -> str:
    """The path the server answers on: the path of `unsubscribe.url`, so a proxy passes it as is."""
    path = urlsplit(config.unsubscribe_url).path.rstrip("/")
    return path or "/"


def routes(config: Config) -> list[BaseRoute]:
    from newsletter.site.preferences import preferences_routes  # imported here: it builds on this module

    path = unsubscribe_path(config)
    return [
        Route(path, unsubscribe_page, methods=["GET"]),
        Route(path, unsubscribe_action, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        *preferences_routes(config),  # "Manage your topics" (issue 9), when preferences_url is set
    ]


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
                message["headers"] = _secure_headers(message.get("headers", []))
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
    b"content-security-policy": _BASE_CSP.encode(),
}


def _secure_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() != b"set-cookie"]
    present = {k.lower() for k, _ in kept}
    return kept + [(k, v) for k, v in _SECURITY_HEADERS.items() if k not in present]


class TokenRedactor(logging.Filter):
    """Blanks `t=<token>` in uvicorn's access log: a token unsubscribes whoever holds it."""

    _TOKEN = re.compile(r"([?&]t=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1...", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1...", record.msg)
        return True


def create_app(config: Config, *, keys: list[bytes] | None = None, state_file: Path | None = None) -> Starlette:
    """The unsubscribe server for `config`; keys default to the ones `send` signs with.

    Never creates a token secret: a fresh random one would refuse every link already sent.
    """
    site = SubscriberSite(
        config=config,
        keys=tuple(keys if keys is not None else token_keys(config, create=False)),
        state_file=state_file or config.state_file,
        templates=template_environment(config),
    )
    with site.db():
        pass  # create the state file and its tables now, so a bad path fails at start-up
    app = Starlette(routes=routes(config))
    app.add_middleware(_Guard)
    app.state.site = site
    return app
