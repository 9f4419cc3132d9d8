"""How `newsletter serve` runs the site under uvicorn: limits that slow clients cannot exhaust.

uvicorn waits for a request head as long as a client likes to send it, so a thousand
connections that each send a byte now and then hold every file descriptor and the site
stops answering. The defaults below (and the reverse proxy in front, see the subscriber
site guide) keep it answering:

| limit                         | value           | what it stops                                       |
|-------------------------------|-----------------|-----------------------------------------------------|
| HEADER_TIMEOUT                | 10 s            | a request head that never ends: the connection is   |
|                               |                 | closed (`SlowClientProtocol`)                       |
| limit_concurrency             | 100             | more connections or requests at once get a quick 503|
| timeout_keep_alive            | 5 s             | idle keep-alive connections                         |
| h11_max_incomplete_event_size | 16 KB           | endless headers                                     |
| backlog                       | 128             | a deep accept queue of clients nobody will serve    |
| body (app.py `_Guard`)        | 16 KB, 10 s     | big or dripping request bodies (413, 408)           |
| repeated log lines            | 1 per 10 s      | a flood writing the same warning a million times    |
|                               |                 | (the server's own lines; the access log is whole)   |
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "LIMITS", "RepeatFilter", "SlowClientProtocol", "server_config"]

HEADER_TIMEOUT = 10.0
LIMITS: dict[str, Any] = {
    "limit_concurrency": 100,
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 16 * 1024,
    "backlog": 128,
}


class SlowClientProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head: a connection
    that has not sent a whole head `header_timeout` seconds after it opened (or after
    its last response) is closed."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        waiting_after = self.cycle
        loop = asyncio.get_running_loop()

        def expire() -> None:
            if self.cycle is waiting_after and not self.transport.is_closing():
                self.transport.close()  # no new request began in time: a slow or idle client

        loop.call_later(self.header_timeout, expire)


class RepeatFilter(logging.Filter):
    """Lets one of each identical message through every `every` seconds, so a flood of
    refused connections writes a line, not hundreds of megabytes."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__()
        self.every = every
        self.last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.getMessage()}"
        now = time.monotonic()
        if now - self.last.get(key, -self.every) < self.every:
            return False
        if len(self.last) > 1000:
            self.last.clear()
        self.last[key] = now
        return True


def server_config(app: Any, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT,
                  **options: Any) -> uvicorn.Config:
    """The uvicorn config `serve` runs: LIMITS, the slow-client protocol, `options` on top."""
    protocol = type("SlowClients", (SlowClientProtocol,), {"header_timeout": header_timeout})
    return uvicorn.Config(app, host=host, port=port, http=protocol, server_header=False, **{**LIMITS, **options})
