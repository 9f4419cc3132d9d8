"""DKIM's RSA step in worker processes, so the event loop keeps the connections busy.

A 2048-bit RSA signature is about 1 ms of CPU, more than everything else a message costs;
on the event loop's one thread it caps a signed send at a third of an unsigned one. The
loop does the cheap half of signing itself (the body hash prepared once per template,
the header hash per message: send/dkim.py) and sends the 32-byte digests here, in
batches, to one worker process per core, each of which loaded the key once.

Each worker is a process with one pipe: a batch goes down as one write of the digests
joined, the signatures come back as one write, and the event loop reads them when the
pipe is readable (`add_reader`), with no helper threads taking the interpreter lock
from the loop (`concurrent.futures.ProcessPoolExecutor` cost the loop more than the
RSA step it saved). A worker that dies (killed, out of memory) is replaced and the
batches it had are sent to the new one, so no message is lost or goes out unsigned.
Workers ignore Ctrl-C: the run decides when to stop, not the terminal.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.errors import SendError
from newsletter.send.dkim import sign_digest

__all__ = ["DIGEST_SIZE", "MAX_RESTARTS", "SigningPool", "worker_count"]

DIGEST_SIZE = 32  # SHA-256
MAX_RESTARTS = 5  # workers that keep dying are a bug or a machine in trouble: stop, resumable


def _serve(conn: Connection, pem: bytes) -> None:
    """A worker: parse the key once, then sign each batch of digests until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    while True:
        try:
            batch = conn.recv_bytes()
        except EOFError:
            return
        if not batch:
            return
        conn.send_bytes(b"".join(sign_digest(key, batch[i:i + DIGEST_SIZE])
                                 for i in range(0, len(batch), DIGEST_SIZE)))


def worker_count() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Worker:
    """One signing process, its pipe, and the batches it has not answered yet (in order)."""

    def __init__(self, pem: bytes) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(target=_serve, args=(theirs, pem), daemon=True,
                                                    name="newsletter-dkim")
        self.process.start()
        theirs.close()  # so the parent sees EOF when the worker dies
        self.pending: deque[tuple[bytes, asyncio.Future[list[bytes]]]] = deque()

    def stop(self) -> None:
        try:
            self.conn.send_bytes(b"")
        except OSError:
            pass
        self.conn.close()
        self.process.join(1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1)


class SigningPool:
    """Worker processes that sign DKIM digests; `await sign(digests)` from the event loop.

    Processes are started with `spawn` (as on macOS and Windows), so a worker holds nothing
    of the parent's but the key. `restarts` counts workers replaced after one died.
    """

    def __init__(self, pem: bytes, *, workers: int | None = None) -> None:
        self.pem = pem
        self.workers = workers or worker_count()
        self.signature_size = _signature_size(pem)
        self.restarts = 0
        self._pool = [_Worker(pem) for _ in range(self.workers)]
        self._loop: asyncio.AbstractEventLoop | None = None

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and diagnostics)."""
        return [w.process.pid for w in self._pool if w.process.pid is not None]

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            for worker in self._pool:
                loop.add_reader(worker.conn.fileno(), self._readable, worker)
        return loop

    async def sign(self, digests: Sequence[bytes]) -> list[bytes]:
        """The signatures of `digests`, in order, split over the workers."""
        if not digests:
            return []
        if not self._pool:
            raise SendError("the DKIM signing processes are gone", hint="run the same command again to resume")
        loop = self._attach()
        size = -(-len(digests) // self.workers)
        futures = []
        for start in range(0, len(digests), size):
            batch = b"".join(digests[start:start + size])
            worker = min(self._pool, key=lambda w: len(w.pending))
            future: asyncio.Future[list[bytes]] = loop.create_future()
            worker.pending.append((batch, future))
            self._send(worker, batch)
            futures.append(future)
        return [signature for batch in await asyncio.gather(*futures) for signature in batch]

    def _send(self, worker: _Worker, batch: bytes) -> None:
        try:
            worker.conn.send_bytes(batch)
        except OSError:
            self._replace(worker)  # resends everything it had, this batch included

    def _readable(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._replace(worker)
            return
        _, future = worker.pending.popleft()
        n = self.signature_size
        if not future.done():
            future.set_result([data[i:i + n] for i in range(0, len(data), n)])

    def _replace(self, dead: _Worker) -> None:
        """A worker died: start another and give it the batches the dead one never answered."""
        if dead not in self._pool:
            return
        if self._loop is not None:
            self._loop.remove_reader(dead.conn.fileno())
        dead.conn.close()
        dead.process.join(0.1)
        index = self._pool.index(dead)
        if self.restarts >= MAX_RESTARTS:
            error = SendError(f"the DKIM signing processes died {self.restarts + 1} times",
                              hint="check the machine's memory and logs, then run the same command to resume")
            for _, future in dead.pending:
                if not future.done():
                    future.set_exception(error)
            self._pool.pop(index)
            return
        self.restarts += 1
        fresh = _Worker(self.pem)
        self._pool[index] = fresh
        if self._loop is not None:
            self._loop.add_reader(fresh.conn.fileno(), self._readable, fresh)
        for batch, future in dead.pending:
            fresh.pending.append((batch, future))
            self._send(fresh, batch)

    def close(self) -> None:
        for worker in self._pool:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(worker.conn.fileno())
            worker.stop()
        self._pool = []


def _signature_size(pem: bytes) -> int:
    """Bytes in one RSA signature: the key's modulus size."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return (key.key_size + 7) // 8
