"""A scripted SMTP server on raw sockets, for relays that misbehave on purpose.

aiosmtpd (smtpserver.py) is a correct server and cannot say one reply too many, split a
reply across packets, greet twice or fall silent half-way. This one speaks just enough
SMTP by hand (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) on an asyncio server on
127.0.0.1, port 0, in a thread with its own loop (`newsletter send` runs its own), and
every misbehaviour is a setting:

- `greeting`: the raw bytes sent on connecting (two replies, a multi-line one ...);
- `silent_at`: "greeting", "EHLO", "AUTH", "MAIL", "RCPT", "DATA" or "message": from there on,
  say nothing and keep the connection open;
- `split`: write every reply a few bytes at a time, each piece in its own packet;
- `merge`: hold replies while more commands are waiting and write them in one packet;
- `rcpt(address, attempt)`: the reply to RCPT (default 250);
- `data(address, attempt)`: the reply to DATA (default 354);
- `after_message(address, n)`: the replies sent after the n-th message (default one 250;
  two 250s is a duplicate reply).

What the server really did is kept for the test to compare with the journal: `accepted`
(every address a message was accepted for with a first-line 250, in order, repeats
included) and `refusals` (address -> the refusals it was sent at RCPT or after DATA).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Self

__all__ = ["ScriptedSmtp"]

Reply = Callable[[str, int], str]


class ScriptedSmtp:
    def __init__(self, *, greeting: bytes = b"220 scripted.test ESMTP\r\n", pipelining: bool = True,
                 silent_at: str | None = None, split: bool = False, merge: bool = False,
                 rcpt: Reply | None = None, data: Reply | None = None,
                 after_message: Callable[[str, int], list[str]] | None = None) -> None:
        self.greeting = greeting
        self.pipelining = pipelining
        self.silent_at = silent_at
        self.split = split
        self.merge = merge
        self.rcpt = rcpt or (lambda address, attempt: "250 2.1.5 ok")
        self.data = data or (lambda address, attempt: "354 go ahead")
        self.after_message = after_message or (lambda address, n: ["250 2.0.0 queued"])
        self.accepted: list[str] = []
        self.refusals: dict[str, list[str]] = defaultdict(list)
        self.rcpt_attempts: Counter[str] = Counter()
        self.data_attempts: Counter[str] = Counter()
        self.messages = 0
        self.connections = 0
        self.silences = 0  # sessions that reached `silent_at`
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.base_events.Server | None = None

    # --- the session -------------------------------------------------------------------

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            self.connections += 1
        self.writers.add(writer)
        out = _Out(writer, split=self.split, merge=self.merge, reader=reader)
        try:
            if self.silent_at == "greeting":
                return await self._hang(reader)
            await out.raw(self.greeting)
            await self._commands(reader, out)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    async def _commands(self, reader: asyncio.StreamReader, out: _Out) -> None:
        recipients: list[str] = []
        while True:
            line = await reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO") and self.silent_at == "EHLO" or \
                    verb == b"MAIL" and self.silent_at == "MAIL" or \
                    verb == b"RCPT" and self.silent_at == "RCPT" or verb == b"DATA" and self.silent_at == "DATA":
                return await self._hang(reader)
            if verb == b"EHLO":
                lines = ["scripted.test", "SIZE 10000000", "8BITMIME", "ENHANCEDSTATUSCODES"]
                lines += ["PIPELINING"] if self.pipelining else []
                lines += ["AUTH PLAIN LOGIN"]  # any login is accepted (on 127.0.0.1 no TLS is needed)
                await out.reply("".join(f"250-{text}\r\n" for text in lines[:-1]) + f"250 {lines[-1]}")
            elif verb == b"AUTH":
                if self.silent_at == "AUTH":  # a relay that ignores a bad login
                    return await self._hang(reader)
                await out.reply("235 2.7.0 authenticated")
            elif verb == b"HELO":
                await out.reply("250 scripted.test")
            elif verb == b"MAIL":
                recipients = []
                await out.reply("250 2.1.0 ok")
            elif verb == b"RCPT":
                address = line.split(b"<", 1)[1].split(b">", 1)[0].decode().lower()
                with self.lock:
                    self.rcpt_attempts[address] += 1
                    reply = self.rcpt(address, self.rcpt_attempts[address])
                    if not reply.startswith("250"):
                        self.refusals[address].append(reply)
                if reply.startswith("250"):
                    recipients.append(address)
                await out.reply(reply)
            elif verb == b"DATA":
                await self._data(reader, out, recipients)
                recipients = []
            elif verb == b"RSET":
                recipients = []
                await out.reply("250 2.0.0 ok")
            elif verb == b"QUIT":
                await out.reply("221 2.0.0 bye")
                await out.flush()
                return
            else:
                await out.reply("502 5.5.2 not implemented")

    async def _data(self, reader: asyncio.StreamReader, out: _Out, recipients: list[str]) -> None:
        if not recipients:
            return await out.reply("503 5.5.1 no valid recipients")
        address = recipients[0]
        with self.lock:
            self.data_attempts[address] += 1
            reply = self.data(address, self.data_attempts[address])
        await out.reply(reply)
        if not reply.startswith("354"):
            return None
        await out.flush()
        await reader.readuntil(b"\r\n.\r\n")
        if self.silent_at == "message":
            return await self._hang(reader)
        with self.lock:
            self.messages += 1
            replies = self.after_message(address, self.messages)
            if replies and replies[0].startswith("250"):
                self.accepted.extend(recipients)
            elif replies:
                self.refusals[address].append(replies[0])
        await out.reply("\r\n".join(replies))
        return None

    async def _hang(self, reader: asyncio.StreamReader) -> None:
        """Say nothing, read whatever comes, until the client gives up and closes."""
        with self.lock:
            self.silences += 1
        while await reader.read(4096):
            pass

    # --- running it ----------------------------------------------------------------------

    def start(self) -> Self:
        self.thread.start()
        coro = asyncio.start_server(self._session, "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        server = self.server
        if server is not None:
            async def stop() -> None:
                server.close()
                for writer in list(self.writers):  # sessions still held open (a silent stage)
                    writer.close()

            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Out:
    """How replies leave: whole, a few bytes per packet (`split`), or gathered (`merge`)."""

    def __init__(self, writer: asyncio.StreamWriter, *, split: bool, merge: bool,
                 reader: asyncio.StreamReader) -> None:
        self.writer = writer
        self.split = split
        self.merge = merge
        self.reader = reader
        self.held = b""

    async def reply(self, text: str) -> None:
        data = text.encode() + b"\r\n"
        if self.merge:
            self.held += data
            if len(self.reader._buffer):  # more commands are waiting: answer them together  # noqa: SLF001
                return
            data, self.held = self.held, b""
        await self.raw(data)

    async def flush(self) -> None:
        if self.held:
            data, self.held = self.held, b""
            await self.raw(data)

    async def raw(self, data: bytes) -> None:
        if not self.split:
            self.writer.write(data)
            await self.writer.drain()
            return
        for start in range(0, len(data), 3):
            self.writer.write(data[start:start + 3])
            await self.writer.drain()
            await asyncio.sleep(0.002)
