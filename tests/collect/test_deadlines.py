"""Issue 14, point 6: `collect --timeout` and `check --links`' timeout bound the whole
request (connect, headers and body), so a server that drips its headers cannot hold them."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from newsletter.collect.feeds import fetch_feed
from newsletter.errors import NewsletterError
from newsletter.issue import fetch_links

HEADER_LINES = 100  # at one line every 0.2 s the server would take 20 s to finish


@dataclass
class DripServer:
    """Answers every request with a status line, then one header line every 0.2 s."""

    port: int = 0
    sent: list[int] = field(default_factory=list)  # header lines sent per connection
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/feed.xml"

    def serve(self, listener: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self.drip, args=(conn,), daemon=True).start()

    def drip(self, conn: socket.socket) -> None:
        count = 0
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while count < HEADER_LINES and not self.stop.wait(0.2):
                    conn.sendall(f"X-Drip-{count}: x\r\n".encode())
                    count += 1
                conn.sendall(b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass  # the client hung up: what the test wants
        self.sent.append(count)


@pytest.fixture
def drip() -> Iterator[DripServer]:
    server = DripServer()
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
    thread.start()
    yield server
    server.stop.set()
    listener.close()


def _wait_for_hang_up(server: DripServer, count: int) -> list[int]:
    for _ in range(100):
        if len(server.sent) >= count:
            break
        server.stop.wait(0.05)
    return server.sent


def test_collect_gives_up_on_a_server_that_drips_headers(drip: DripServer) -> None:
    with pytest.raises(NewsletterError) as info:
        fetch_feed(drip.url, timeout=1)
    assert str(info.value) == (f"{drip.url}: timed out after 1 s "
                               "(try again later, or allow longer with --timeout)")
    [lines] = _wait_for_hang_up(drip, 1)
    assert lines < HEADER_LINES  # the client hung up long before the headers were complete


def test_link_check_gives_up_on_a_server_that_drips_headers(drip: DripServer) -> None:
    [result] = asyncio.run(fetch_links([drip.url], timeout=1))
    assert result.status is None and result.error == "no answer within 1 s"
    assert all(lines < HEADER_LINES for lines in _wait_for_hang_up(drip, 2))
