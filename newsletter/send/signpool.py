"""DKIM's RSA step in worker processes, so the event loop keeps the connections busy.

A 2048-bit RSA signature is about 1 ms of CPU, more than everything else a message costs;
on the event loop's one thread it caps a signed send at a third of an unsigned one. The
loop does the cheap half of signing itself (the body hash prepared once per template,
the header hash per message: send/dkim.py) and sends the 32-byte digests here, in
batches, to one worker process per core, each of which loaded the key once.

A worker that dies (killed, out of memory) breaks Python's process pool; `SigningPool`
then starts a fresh one and signs the lost batches again, so no message is lost or sent
unsigned. Workers ignore Ctrl-C: the run decides when to stop, not the terminal.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.errors import SendError
from newsletter.send.dkim import sign_digest

__all__ = ["MAX_RESTARTS", "SigningPool", "worker_count"]

MAX_RESTARTS = 5  # a pool that keeps dying is a bug or a machine in trouble: stop, resumable

_KEY: rsa.RSAPrivateKey | None = None  # in each worker: the key, parsed once


def _load_key(pem: bytes) -> None:
    """Worker initializer: parse the key once, and leave Ctrl-C to the parent."""
    global _KEY
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    _KEY = key


def _sign_batch(digests: Sequence[bytes]) -> list[bytes]:
    """In a worker: the signature of each digest, in order."""
    assert _KEY is not None
    return [sign_digest(_KEY, digest) for digest in digests]


def _ready() -> int:
    return os.getpid()


def worker_count() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class SigningPool:
    """Worker processes that sign DKIM digests; `await sign(digests)` from the event loop.

    Processes are started with `spawn` (as on macOS and Windows), so a worker holds no copy
    of the parent's state but the key. `restarts` counts pools replaced after a worker died.
    """

    def __init__(self, pem: bytes, *, workers: int | None = None) -> None:
        self.pem = pem
        self.workers = workers or worker_count()
        self.restarts = 0
        self._executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_load_key, initargs=(self.pem,))

    def warm_up(self) -> None:
        """Start every worker now (importing takes a moment), not when the first batch is due."""
        for _ in range(self.workers):
            self._executor.submit(_ready)

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and diagnostics)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    async def sign(self, digests: Sequence[bytes]) -> list[bytes]:
        """The signatures of `digests`, in order, split over the workers; lost batches are signed again."""
        if not digests:
            return []
        loop = asyncio.get_running_loop()
        size = -(-len(digests) // self.workers)
        chunks = [list(digests[i:i + size]) for i in range(0, len(digests), size)]
        while True:
            executor = self._executor
            try:
                futures = [loop.run_in_executor(executor, _sign_batch, chunk) for chunk in chunks]
            except BrokenProcessPool:
                futures = []
            results = await asyncio.gather(*futures, return_exceptions=True) if futures else [BrokenProcessPool()]
            broken = [r for r in results if isinstance(r, BaseException)]
            if not broken:
                return [signature for batch in results for signature in batch]  # type: ignore[union-attr]
            if not all(isinstance(r, BrokenProcessPool) for r in broken):
                raise broken[0]
            self._replace(executor)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A worker died: start a fresh pool (once, however many batches noticed it)."""
        if self._executor is not broken:
            return
        if self.restarts >= MAX_RESTARTS:
            raise SendError(f"the DKIM signing processes died {self.restarts} times",
                            hint="check the machine's memory and logs, then run the same command to resume")
        self.restarts += 1
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new()
        self.warm_up()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
