"""The embedded default: a real SMTP server (aiosmtpd) on 127.0.0.1 that files mail in a Maildir.

With no `smtp:` block, `send` starts this server on a free port in its own event loop and
delivers to it over real SMTP, exactly as it would to a relay, so the first run works on
any laptop and exercises the same code path. Nothing leaves the machine: each accepted
message is written to `outbox/new/` (one file per recipient, as a local delivery agent
would, with `Return-Path` and `Delivered-To` added and LF line ends).
"""

from __future__ import annotations

import asyncio
import mailbox
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from newsletter.errors import SendError

__all__ = ["HOST", "MaildirHandler", "Outbox", "embedded_outbox"]

HOST = "127.0.0.1"


class MaildirHandler:
    """aiosmtpd handler: every accepted message becomes one Maildir file per recipient."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("tmp", "new", "cur"):  # made (and tried) up front: OSError now, not a 451 per message
            (folder / sub).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder / "tmp"):
            pass
        self.maildir = mailbox.Maildir(str(folder), create=True)
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        for rcpt in envelope.rcpt_tos:
            trace = f"Return-Path: <{envelope.mail_from}>\r\nDelivered-To: {rcpt}\r\n".encode("ascii", "replace")
            try:
                self.maildir.add((trace + content).replace(b"\r\n", b"\n"))
            except OSError as exc:
                return f"451 4.3.0 cannot write to the outbox: {exc.strerror}"
        self.count += len(envelope.rcpt_tos)
        return "250 2.0.0 OK: filed in the local outbox"


@dataclass(frozen=True)
class Outbox:
    folder: Path
    host: str
    port: int
    handler: MaildirHandler


@asynccontextmanager
async def embedded_outbox(folder: Path) -> AsyncIterator[Outbox]:
    """Run the outbox server on 127.0.0.1 (a free port) for the duration of the block."""
    try:
        handler = MaildirHandler(folder)
    except OSError as exc:
        raise SendError(f"cannot create the local outbox: {exc.strerror or exc}", path=folder,
                        hint="the newsletter folder must be writable by this user") from exc
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(handler, hostname="newsletter-outbox", ident="newsletter outbox (local only)",
                    loop=loop)

    server = await loop.create_server(factory, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Outbox(folder, HOST, port, handler)
    finally:
        server.close()
        await server.wait_closed()
