"""A real SMTP server (aiosmtpd) on 127.0.0.1 in a background thread, with injectable faults.

Used by the send and deliver tests: `newsletter send` runs its own event loop (or is a
subprocess), so the server lives in a thread with its own loop, on a free port.

Faults are scripted per address: `handler.rcpt_replies["a@example.org"] = ["451 4.7.1 try
later"]` answers the first RCPT for that address with 451 and accepts the next. DATA
replies can also be "drop" (close the connection without accepting), "accept-drop" (keep
the message, then close without replying: the client cannot know it was delivered) or
"stall" (say nothing until the client gives up).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
import warnings
from collections import defaultdict
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, Self

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["FaultyHandler", "SmtpServer", "free_port"]


class FaultyHandler:
    """Records every accepted message; answers with scripted faults first."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []  # (recipient, content) in arrival order
        self.mail_replies: list[str] = []  # for successive MAIL commands, any address
        self.rcpt_replies: dict[str, list[str]] = defaultdict(list)
        self.data_replies: dict[str, list[str]] = defaultdict(list)
        self.all_rcpt_replies: list[str] = []  # for successive RCPT commands, any address
        self.data_delay = 0.0
        self.logins: list[tuple[str, bool]] = []  # (username, over TLS)
        self.lock = threading.Lock()

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        with self.lock:
            if self.mail_replies:
                return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        with self.lock:
            scripted = self.rcpt_replies[address.lower()]
            if scripted:
                return scripted.pop(0)
            if self.all_rcpt_replies:
                return self.all_rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        rcpt = envelope.rcpt_tos[0].lower()
        with self.lock:
            scripted = self.data_replies[rcpt]
            reply = scripted.pop(0) if scripted else "250 OK"
        if reply == "stall":
            await asyncio.sleep(3600)
        if reply in ("drop", "accept-drop"):
            if reply == "accept-drop":
                self._keep(envelope)
            assert server.transport is not None
            server.transport.abort()
            return "250 OK"  # never reaches the client
        if reply.startswith("250"):
            self._keep(envelope)
        return reply

    def _keep(self, envelope: Envelope) -> None:
        content = envelope.original_content or b""
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.messages.append((rcpt.lower(), content))

    def received(self, address: str) -> list[Message]:
        with self.lock:
            return [message_from_bytes(c) for r, c in self.messages if r == address.lower()]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        with self.lock:
            for rcpt, _ in self.messages:
                counts[rcpt] += 1
        return dict(counts)


class _Busy(asyncio.Protocol):
    """Answers 421 at the greeting and hangs up, like a server at its connection limit."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(b"421 4.7.0 too many connections, try again later\r\n")  # type: ignore[attr-defined]
        transport.close()


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in its own thread and loop; `start()`/`stop()`, or use as a context."""

    def __init__(self, handler: FaultyHandler | None = None, *, port: int = 0, busy_connections: int = 0,
                 tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False,
                 users: dict[str, str] | None = None) -> None:
        self.handler = handler or FaultyHandler()
        self.port = port
        self.host = "127.0.0.1"
        self.busy_connections = busy_connections
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.users = users
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.base_events.Server | None = None

    def _protocol(self) -> asyncio.BaseProtocol:
        self.connections += 1
        if self.connections <= self.busy_connections:
            return _Busy()
        outer = self
        kwargs: dict[str, Any] = {}
        if self.users is not None:
            # with implicit TLS the whole connection is encrypted, which aiosmtpd cannot see
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=not self.implicit_tls)
        if self.tls_context is not None and not self.implicit_tls:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)

        class Counting(SMTP):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                outer.active += 1
                outer.max_active = max(outer.max_active, outer.active)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                outer.active -= 1
                super().connection_lost(exc)

        with warnings.catch_warnings():  # implicit TLS: aiosmtpd warns it cannot see the encryption
            warnings.simplefilter("ignore", UserWarning)
            return Counting(self.handler, hostname="test-smtp", loop=self.loop, **kwargs)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        assert server.transport is not None
        over_tls = session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None
        self.handler.logins.append((user, over_tls))
        ok = self.users is not None and self.users.get(user) == password
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535

    def start(self) -> Self:
        if not self.thread.is_alive():
            self.thread.start()
        ssl_context = self.tls_context if self.implicit_tls else None
        coro = self.loop.create_server(self._protocol, self.host, self.port, ssl=ssl_context)
        self.server = asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None

            async def close() -> None:
                server.close()
                server.close_clients() if hasattr(server, "close_clients") else None

            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_port() -> int:
    """A port nothing listens on right now (for "server down" tests)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for `localhost`, valid
    for a day; the certificate is left in `folder/cert.pem` for a client to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context
