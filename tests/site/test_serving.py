"""`newsletter serve` under load (issue 28): slow clients are cut off, the site keeps
answering, and its log names nobody and does not flood."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from support.project import set_token_secret

from newsletter.config import Config
from newsletter.site import app as site_app
from newsletter.site.app import AddressRedactor, create_app
from newsletter.site.serving import RepeatFilter, server_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@contextmanager
def served(config: Config, **options: object) -> Iterator[int]:
    server = uvicorn.Server(server_config(create_app(config), host="127.0.0.1", port=0, log_level="warning",
                                          access_log=False, lifespan="off", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_slow_clients_are_cut_off_and_healthz_keeps_answering(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    config = set_token_secret(monkeypatch, config, b"serving-secret")
    with served(config, header_timeout=0.5, limit_concurrency=10) as port:
        slow = []
        for _ in range(30):  # more than the concurrency limit, each sending half a request head
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: example.org\r\nX-Slow: ")
            slow.append(sock)
        assert all(closed_by_server(sock) for sock in slow)
        for sock in slow:
            sock.close()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").text == "ok\n"


def test_a_dripping_body_gets_408(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    config = set_token_secret(monkeypatch, config, b"serving-secret")
    monkeypatch.setattr(site_app, "BODY_TIMEOUT", 0.3)
    with served(config) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /unsubscribe HTTP/1.1\r\nHost: example.org\r\nContent-Type: "
                     b"application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nt=abc")
        sock.settimeout(10)
        assert sock.recv(1024).startswith(b"HTTP/1.1 408 ")
        sock.close()


def test_log_lines_name_nobody_and_repeats_are_dropped() -> None:
    record = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1,
                               "relay said %s for %s", ("550 5.1.1 <pat@example.org> unknown", "x"), None)
    assert AddressRedactor().filter(record)
    assert record.getMessage() == "relay said 550 5.1.1 <address> unknown for x"
    repeats = RepeatFilter(every=60)
    flood = [logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "Exceeded concurrency limit.",
                               None, None) for _ in range(1000)]
    assert sum(repeats.filter(r) for r in flood) == 1


def test_distinct_lines_with_one_format_all_pass() -> None:
    """The access log's lines share one format string: each request still gets its line."""
    repeats = RepeatFilter(every=60)
    lines = [logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s"', (f"10.0.0.{i}", "GET", "/"),
                               None) for i in range(5)]
    assert all(repeats.filter(r) for r in lines)
