"""Serving the preview: the listening socket (next free port), the URL to open, the Host
names to accept, and a uvicorn server that stops promptly at Ctrl-C.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

from newsletter.deliver import is_loopback
from newsletter.errors import NewsletterError
from newsletter.preview.guard import LOCAL_HOSTS

__all__ = ["Listener", "listen", "make_server", "open_socket"]


@dataclass(frozen=True)
class Listener:
    """Where the preview listens: the socket, the URL to open, which Host headers to accept."""

    sock: socket.socket
    url: str
    allowed_hosts: tuple[str, ...] | None  # None: any (listening on every address)
    public: bool  # reachable from other machines: the preview and the outbox are open to the network
    asked_port: int  # the port asked for; `sock` may hold the next free one


def listen(host: str, port: int) -> Listener:
    """A socket on `host:port` (or the next free port) and what follows from the address:
    the URL to print, the Host headers to accept (against DNS rebinding), whether it is public."""
    try:
        sock = open_socket(host, port)
    except OSError as exc:
        hint = "choose another with --port" if exc.errno == errno.EADDRINUSE else "check --host"
        raise NewsletterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint=hint) from exc
    bound, actual = sock.getsockname()[:2]
    every = host in ("0.0.0.0", "::", "")
    shown = "127.0.0.1" if every else (f"[{bound}]" if ":" in bound else host)
    return Listener(sock, f"http://{shown}:{actual}/", None if every else (*LOCAL_HOSTS, host),
                    not is_loopback(bound), port)


def open_socket(host: str, port: int, *, tries: int = 20) -> socket.socket:
    """A listening socket on `port`, or on the next free one after it (`port` 0: any)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    for offset in range(tries):
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address[0], port + offset if port else 0, *address[2:]))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or not port:
                raise
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    raise OSError(errno.EADDRINUSE, f"ports {port} to {port + tries - 1} are all in use")


class _Server(uvicorn.Server):
    """uvicorn, but a stop signal first answers the open long-polls of `on_exit`."""

    on_exit: Callable[[], None] | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.on_exit is not None:
            self.on_exit()
        super().handle_exit(sig, frame)


def make_server(app: Starlette, *, on_exit: Callable[[], None] | None = None) -> uvicorn.Server:
    """A quiet uvicorn server for `app`; `.run(sockets=[sock])` serves until `.should_exit`.

    At Ctrl-C `on_exit` answers the open long-polls, and any still open are cut after a
    second, so the server stops promptly and without an error in the terminal.
    """
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=1)
    server = _Server(config)
    server.on_exit = on_exit
    return server
