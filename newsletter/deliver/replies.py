"""SMTP replies read in order, however they arrive: one reply for each command, no more.

aiosmtplib reads one reply per command it sent, drops bytes that arrive while nobody is
waiting, and keeps a second reply that came in the same packet as the first for the
next command, which then reads somebody else's reply. So it can neither pipeline nor
notice a server that says too much. `ExchangeReplies` takes the connection's transport
over for one transaction (pipelined or not): it keeps every reply the server sends, in
order, hands them out one `read()` at a time, and says whether anything is left over
(`leftover`); then `release()` gives the transport back to aiosmtplib. Nothing here
decides what a reply means (transaction.py does that); this module only moves and
splits bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

__all__ = ["ConnectionLost", "ExchangeReplies", "Reply", "parse_replies"]

MAX_REPLY_BYTES = 64 * 1024  # a server that sends more without ending a reply is broken


@dataclass(frozen=True)
class Reply:
    code: int
    message: str


class ConnectionLost(Exception):
    """The connection closed or went silent (`timed_out`) before the reply came."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def parse_replies(buffer: bytearray) -> list[Reply]:
    """Every complete reply at the start of `buffer`, removed from it; a partial one stays.

    A reply is one or more `NNN-text` lines ending with an `NNN text` line (RFC 5321 4.2).
    Raises ValueError on a line that is not a reply.
    """
    replies: list[Reply] = []
    offset = 0
    lines: list[str] = []
    start = 0
    while True:
        end = buffer.find(b"\n", offset)
        if end < 0:
            break
        line = bytes(buffer[offset:end + 1])
        offset = end + 1
        if len(line) < 4 or not line[:3].isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
            raise ValueError(f"not an SMTP reply: {line[:80]!r}")
        lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
        if line[3:4] != b"-":
            replies.append(Reply(int(line[:3]), "\n".join(lines)))
            lines = []
            start = offset
    del buffer[:start]
    return replies


class ExchangeReplies(asyncio.Protocol):
    """Stands in for the session's protocol on its transport, keeping every reply in order.

    Flow control and the end of the connection are passed on to the protocol it stands in
    for, so the session still knows when the server has gone.
    """

    def __init__(self, transport: asyncio.Transport, inner: asyncio.BaseProtocol) -> None:
        self.transport = transport
        self.inner = inner
        self.buffer = bytearray()
        self.replies: deque[Reply] = deque()
        self.closed: str | None = None
        self._waiter: asyncio.Future[None] | None = None
        transport.set_protocol(self)

    def release(self) -> None:
        """Give the transport back to the session's own protocol."""
        if self.transport.get_protocol() is self:
            self.transport.set_protocol(self.inner)

    def write(self, data: bytes) -> None:
        if self.closed is not None or self.transport.is_closing():
            raise ConnectionLost(self.closed or "connection lost")
        self.transport.write(data)

    async def read(self, timeout: float, waiting_for: str = "the server's reply") -> Reply:
        """The next reply; `ConnectionLost` if the connection ends or stays silent for `timeout`."""
        while not self.replies:
            if self.closed is not None:
                raise ConnectionLost(self.closed)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except TimeoutError:
                raise ConnectionLost(f"no {waiting_for} within {timeout:g} s", timed_out=True) from None
            finally:
                self._waiter = None
        return self.replies.popleft()

    async def leftover(self) -> str:
        """What the server sent beyond the replies read (a reply nobody asked for), or "".

        Bytes already received but not yet handed to this protocol get one turn of the loop."""
        await asyncio.sleep(0)
        if self.replies:
            extra = self.replies[0]
            return f"{extra.code} {extra.message}".replace("\n", " ")[:120]
        return bytes(self.buffer[:120]).decode("utf-8", "replace").strip()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer.extend(data)
        try:
            self.replies.extend(parse_replies(self.buffer))
        except ValueError as exc:
            self.closed = str(exc)
            self.transport.close()
        if len(self.buffer) > MAX_REPLY_BYTES:
            self.closed = "the server's reply is too long"
            self.transport.close()
        self._wake()

    def eof_received(self) -> bool | None:
        self.closed = self.closed or "the server closed the connection"
        self._wake()
        result = self.inner.eof_received() if isinstance(self.inner, asyncio.Protocol) else None
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.closed or (f"connection lost: {exc}" if exc else "the server closed the connection")
        self._wake()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()
