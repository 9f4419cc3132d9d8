"""DKIM's RSA step in worker processes, so the event loop keeps the connections busy.

A 2048-bit RSA signature is about 1 ms of CPU, more than everything else a message costs;
on the event loop's one thread it caps a signed send at a third of an unsigned one. The
loop does the cheap half of signing itself (the body hash prepared once per template,
the header hash per message: send/dkim.py) and sends the 32-byte digests here, in
batches, to one worker process per core, each of which loaded the key once.

Each worker is a process with one socket: a batch goes down as one write of the digests
joined, the signatures come back as one write, and the event loop reads them when the
socket is readable (`add_reader`), with no helper threads taking the interpreter lock
from the loop (`concurrent.futures.ProcessPoolExecutor` cost the loop more than the
RSA step it saved). A worker that dies (killed, out of memory) is replaced and the
batches it had are sent to the new one, so no message is lost or goes out unsigned; so
is one that stops answering (stopped with SIGSTOP, swapped out, hung) for `STUCK_AFTER`
seconds with a batch that takes milliseconds: it is killed first. Past `MAX_RESTARTS`
replacements every batch waiting fails with one `SendError`, retrieved, so the run stops
with that one line. Workers ignore Ctrl-C and SIGTERM: the run decides when to stop, not
the terminal or the service manager, and closes them when it does. A worker is a fresh
interpreter running send/signworker.py, which imports only what signing needs; it is
not started through `multiprocessing`, which would run the caller's main script again in
every worker (and fail in a script without an `if __name__ == "__main__"` guard).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.errors import SendError

__all__ = ["MAX_RESTARTS", "SigningPool", "worker_count"]

MAX_RESTARTS = 5  # workers that keep dying are a bug or a machine in trouble: stop, resumable
STUCK_AFTER = 5.0  # seconds without an answer to a batch (milliseconds of work) before a worker is replaced
STARTUP_LIMIT = 60.0  # seconds a new worker may take to start and load the key
_WORKER = str(Path(__file__).with_name("signworker.py"))  # run as a script: it imports nothing of the package


def worker_count() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Worker:
    """One signing process, its socket, and the batches it has not answered yet (in order)."""

    def __init__(self, pem: bytes) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-P", _WORKER, str(theirs.fileno())],  # -P: not its own folder on sys.path
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                process_group=0)  # Ctrl-C in the terminal is for the run, which stops the workers
            self.conn = Connection(ours.detach())  # theirs closes here, so the run sees EOF when the worker dies
        self.pending: deque[tuple[bytes, asyncio.Future[list[bytes]]]] = deque()
        self.ready_at: float | None = None  # when it had loaded the key (starting takes seconds when busy)
        self.started = time.monotonic()
        try:
            self.conn.send_bytes(pem)  # a worker that died at once shows as EOF on the first read
        except OSError:
            pass

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()

    def reap(self, seconds: float) -> None:
        try:
            self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        try:
            self.conn.send_bytes(b"")
        except OSError:
            pass
        self.conn.close()
        self.reap(1)
        if self.alive():
            self.kill()
            self.reap(1)


class SigningPool:
    """Worker processes that sign DKIM digests; `await sign(digests)` from the event loop.

    Each worker is a fresh interpreter (send/signworker.py), so it holds nothing of the
    parent's but the key. `restarts` counts workers replaced after one died.
    """

    def __init__(self, pem: bytes, *, workers: int | None = None) -> None:
        self.pem = pem
        self.workers = workers or worker_count()
        self.signature_size = _signature_size(pem)
        self.restarts = 0
        self.failed: SendError | None = None  # gave up after MAX_RESTARTS: every later call raises it
        self._pool = [_Worker(pem) for _ in range(self.workers)]
        self._loop: asyncio.AbstractEventLoop | None = None

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and diagnostics)."""
        return [w.process.pid for w in self._pool]

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
        if self.failed is not None:
            raise self.failed
        loop = self._attach()
        size = -(-len(digests) // self.workers)
        futures = []
        for start in range(0, len(digests), size):
            batch = b"".join(digests[start:start + size])
            future: asyncio.Future[list[bytes]] = loop.create_future()
            futures.append(future)
            if self.failed is not None or not self._pool:  # gave up while handing out this call's batches
                future.set_exception(self.failed or SendError("the DKIM signing processes are gone"))
                future.exception()
                continue
            worker = min(self._pool, key=lambda w: len(w.pending))
            worker.pending.append((batch, future))
            self._send(worker, batch)
            loop.call_later(STUCK_AFTER, self._check, future)
        return [signature for batch in await asyncio.gather(*futures) for signature in batch]

    def _send(self, worker: _Worker, batch: bytes) -> None:
        try:
            worker.conn.send_bytes(batch)
        except OSError:
            self._replace(worker)  # resends everything it had, this batch included

    def _check(self, future: asyncio.Future[list[bytes]]) -> None:
        """A batch still unanswered after STUCK_AFTER: its worker is stuck; kill it and replace it."""
        if future.done():
            return
        for worker in self._pool:
            if any(f is future for _, f in worker.pending):
                now = time.monotonic()
                starting = (now - worker.started < STARTUP_LIMIT if worker.ready_at is None
                            else now - worker.ready_at < STUCK_AFTER)  # give a fresh worker its full time
                if not starting:
                    worker.kill()
                    self._replace(worker)
                if not future.done() and self._loop is not None:  # watch it (on its new worker) again
                    self._loop.call_later(STUCK_AFTER, self._check, future)
                return

    def _readable(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._replace(worker)
            return
        if not data:
            worker.ready_at = time.monotonic()
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
        dead.kill()  # stuck, not dead: make sure it never answers late
        dead.reap(0.1)
        index = self._pool.index(dead)
        if self.restarts >= MAX_RESTARTS:
            error = self.failed = self.failed or SendError(
                f"the DKIM signing processes died {self.restarts + 1} times",
                hint="check the machine's memory and logs, then run the same command to resume")
            for _, future in dead.pending:
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved here: a run stopping on the first need not await all
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
    """Bytes in one RSA signature: the key's modulus size (the key was checked when loaded)."""
    key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey)
    return (key.key_size + 7) // 8
