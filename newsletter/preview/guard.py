"""What every preview response goes through: local Host names only, same-origin POSTs,
and security headers on every response (raw views and the framework's 500 page too).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["COMMON_HEADERS", "DEFAULT_CSP", "LOCAL_HOSTS", "GuardedApp", "LocalOnly", "SecurityHeaders"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
COMMON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                  "Referrer-Policy": "same-origin"}
# What a response without its own policy (raw message, 404/500 text, ...) gets: nothing runs.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'self'; base-uri 'none'"
_STAMPED = [(k.lower().encode(), v.encode())
            for k, v in {**COMMON_HEADERS, "Content-Security-Policy": DEFAULT_CSP}.items()]


def _hostname(value: str) -> str:
    return (urlsplit(f"//{value}").hostname or "").lower() if value else ""


class LocalOnly:
    """Answer only to the allowed host names; refuse POSTs whose Origin is another site."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        problem = None
        if self.allowed is not None and _hostname(host) not in self.allowed:
            problem = "this preview answers only to a local address such as 127.0.0.1"
        elif scope["method"] not in ("GET", "HEAD") and not _same_origin(headers, host):
            problem = "refused: the form was not sent from this preview page"
        if problem:
            return await Response(problem + "\n", 403, media_type="text/plain")(scope, receive, send)
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds `COMMON_HEADERS` and a default CSP to every response that lacks them, the raw
    views and the framework's own 500 page included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                message["headers"] = headers + [(k, v) for k, v in _STAMPED if k not in present]
            await send(message)

        await self.app(scope, receive, stamped if scope["type"] == "http" else send)


def _same_origin(headers: dict[str, str], host: str) -> bool:
    origin = headers.get("origin") or headers.get("referer") or ""
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


class GuardedApp(Starlette):
    """Starlette with `SecurityHeaders` outside its error handler, which user middleware never is."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())
