"""A real HTTP server on 127.0.0.1 (port 0) serving feed documents, for collect's tests.

Each route has a body, a content type, and optionally a status, a delay, an ETag and a
Last-Modified date; a request with a matching If-None-Match / If-Modified-Since gets
304 with no body. Every request is recorded (path, headers, status answered) so tests
can assert what the client sent and what the server did.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"

__all__ = ["DATA", "FeedServer", "Request", "Route", "feed_server"]


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml"
    status: int = 200
    delay: float = 0.0
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class FeedServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve_file(self, path: str, name: str, **options: object) -> str:
        """Serve tests/data/feeds/NAME at PATH; returns its URL."""
        self.routes[path] = Route((DATA / name).read_bytes(), **options)  # type: ignore[arg-type]
        return self.url(path)

    def answered(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
            server.requests.append(record)
            route = server.routes.get(self.path)
            if route is None:
                record.status = 404
                self._send(404, b"<html><body>Not found</body></html>", "text/html")
                return
            if route.delay and server.stopping.wait(route.delay):
                return
            fresh = (route.etag and record.headers.get("if-none-match") == route.etag) or (
                route.last_modified and record.headers.get("if-modified-since") == route.last_modified)
            record.status = 304 if fresh and route.status == 200 else route.status
            headers = {}
            if route.etag:
                headers["ETag"] = route.etag
            if route.last_modified:
                headers["Last-Modified"] = route.last_modified
            body = b"" if record.status == 304 else route.body
            self._send(record.status, body, route.content_type, headers)

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            if status != 304:
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (timeout test) is expected


def start(server: FeedServer) -> tuple[_Server, threading.Thread]:
    httpd = _Server(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return httpd, thread


def stop(server: FeedServer, httpd: _Server, thread: threading.Thread) -> None:
    server.stopping.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def feed_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    """A started FeedServer; proxies are switched off so requests stay on 127.0.0.1."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    server = FeedServer()
    httpd, thread = start(server)
    try:
        yield server
    finally:
        stop(server, httpd, thread)
