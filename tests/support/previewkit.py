"""What the preview's HTTP and browser tests share: a live build and a real server for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from newsletter.daterange import parse_range
from newsletter.preview import LiveBuild, create_app, make_server, open_socket

JULY = parse_range("2023-07", None, None)
NEGLECT_ITEM = "items/2023-07-10-neglect-case-reviews.yaml"
NEGLECT_TITLE = "Child neglect: learning from case reviews"


def live_build(project: Path) -> LiveBuild:
    live = LiveBuild(project / "newsletter.yaml", JULY)
    live.rebuild()
    return live


@contextmanager
def running_preview(live: LiveBuild, *, watch: bool = True) -> Iterator[str]:
    """The preview app under a real uvicorn on 127.0.0.1 (a free port), watching files.

    Uses the same socket and server helpers as `newsletter preview`; yields the base URL.
    """
    sock = open_socket("127.0.0.1", 0)
    server = make_server(create_app(live, watch=watch))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the preview server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def base(live: LiveBuild) -> Iterator[str]:
    """The URL of a running preview of the test module's `live` build, watching for changes."""
    with running_preview(live) as url:
        assert live.watching.wait(5)
        yield url
