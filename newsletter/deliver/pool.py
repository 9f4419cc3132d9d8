"""SMTP delivery: a pool of persistent aiosmtplib connections under one global rate limit.

`deliver(source, transport)` runs `transport.concurrency` workers. Each keeps one
connection open for many messages (a fresh one after `reconnect_after`), takes a `Job`
from the source, waits for the rate limiter, runs one SMTP transaction and hands the
`Result` back. It knows SMTP and nothing of the journal: the source (send/jobs.py) records.

The pieces it drives live beside it: connection.py connects (TLS and AUTH policy),
transaction.py runs one transaction and says what the replies mean, pace.py
keeps the pace. What the pool itself decides:
- A 4xx about one recipient (greylisting, a full mailbox: `pace_signal` is None) leaves
  the pace alone; the source retries that recipient after its own backoff. A 4xx about
  the sender or the connection (421, 454, rate wording, or 4xx to MAIL FROM/DATA for
  `MANY` different recipients within `MANY_WINDOW` seconds) halves the global pace (at
  most once a second); it climbs back with every clean second (pace.py). 421 also means
  the server is closing: the worker reconnects.
- AUTH refused, TLS not offered or not trusted, or 5xx to MAIL FROM: the configuration is
  wrong for every recipient alike, so the run stops (`fatal`) instead of failing everyone.
- A host that does not resolve, a port that refuses, or TLS that cannot start, before any
  connection of the run succeeded: a configuration error too, so the run stops at once,
  naming the setting (`smtp.host: ...`), instead of retrying for a minute.
- A connection lost or timed out before the message went: the job is retried on a new
  connection; lost during the message: `deferred` and `uncertain` (the server may have
  taken it). Connections back off 2^n; a worker that fails `max_connection_failures`
  times in a row retires, and when the last one does the run stops, resumable.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import aiosmtplib

from newsletter.deliver.connection import (
    ConnectionFailed,
    Connector,
    Fatal,
    Transport,
    close_politely,
)
from newsletter.deliver.pace import RateLimiter
from newsletter.deliver.transaction import Job, Result, pace_signal, transact
from newsletter.journal import DeliveryStatus

__all__ = ["MANY", "MANY_WINDOW", "JobSource", "PoolReport", "deliver"]

MANY = 3  # 4xx to MAIL FROM/DATA for this many different recipients ...
MANY_WINDOW = 5.0  # ... within this many seconds is about the sender, not them


class JobSource(Protocol):
    """What the pool pulls jobs from and reports results to (send/jobs.py's `JournalJobs`)."""

    async def next_job(self) -> Job | None:
        """The next job, waiting if retries are due later; None when there is nothing more."""

    def done(self, result: Result) -> None:
        """Record a result; called once for every job handed out."""


@dataclass
class PoolReport:
    stopped: str | None = None  # why the run stopped early, if it did
    fatal: bool = False  # a configuration problem (stop and fix), not a passing outage
    connections: int = 0
    throttled: int = 0  # 4xx replies about the sender or the connection
    deferrals: int = 0  # 4xx replies about one recipient (each waits for its own retry)
    slowdowns: Counter[str] = field(default_factory=Counter)  # why the pace was lowered, how often
    lowest_rate: float | None = None  # the lowest pace reached, msgs/s (None: never paced)
    retired: int = 0


class _Pool:
    """What the workers share: the source, the pace, the report and who is still working."""

    def __init__(self, source: JobSource, transport: Transport, stop: asyncio.Event,
                 on_event: Callable[[str], None] | None, on_wait: Callable[[str], None] | None = None) -> None:
        self.source = source
        self.t = transport
        self.stop = stop
        self.on_event = on_event or (lambda message: None)
        self.limiter = RateLimiter(transport.rate, guess=2.0 * transport.concurrency)
        self.report = PoolReport()
        self.active = transport.concurrency
        self.connector = Connector(transport, on_wait)
        self.delivered = 0  # messages the relay accepted in this run: until then, silence is no outage
        self._last_error = ""
        self._stage_refusals: deque[tuple[float, str]] = deque()  # (when, recipient) of MAIL/DATA 4xx

    def halt(self, reason: str, *, fatal: bool = False) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason
            self.report.fatal = fatal
        self.stop.set()

    async def worker(self) -> None:
        """One connection slot: take a job, make sure there is a connection, send, report."""
        smtp: aiosmtplib.SMTP | None = None
        job: Job | None = None
        used = failures = 0
        sending = False  # cancelled mid-transaction: leave the job "sending" (a possible duplicate)
        cancelled = False
        try:
            while not self.stop.is_set():
                if job is None:
                    job = await self.source.next_job()
                    if job is None:
                        return
                    continue
                if smtp is None or not smtp.is_connected or used >= self.t.reconnect_after:
                    await close_politely(smtp)
                    smtp, used = await self._connect_or_none(failures), 0
                    if smtp is None:
                        failures += 1
                        if failures >= self.t.max_connection_failures:
                            self._give_up(self._last_error)
                            return
                        await self._backoff(failures)
                    continue
                if not await self.limiter.wait(self.stop):
                    continue
                try:
                    sending = True
                    result = await transact(smtp, job, self.t)
                    sending = False
                except ConnectionFailed as exc:
                    sending = False
                    smtp.close()
                    if exc.setting and not self.delivered:  # silent from the first message: stop, say where
                        self.halt(f"{exc.setting}: {exc}", fatal=True)
                        continue
                    failures += 1
                    job.attempts += 1
                    if job.attempts > self.t.retries:
                        self.source.done(Result(job, DeliveryStatus.DEFERRED, reply=f"connection lost: {exc}"))
                        job = None
                    if failures >= self.t.max_connection_failures:
                        self._give_up(str(exc))
                        return
                    if failures > 1 or used == 0:  # a long-idle connection may just have timed out
                        await self._backoff(failures)
                    continue
                except Fatal as exc:
                    sending = False
                    self.halt(str(exc), fatal=True)
                    continue
                used += 1
                failures = self._count(result, failures)
                if result.code == 421 or result.uncertain:
                    smtp.close()
                self.source.done(result)
                job = None
                if result.uncertain and failures >= self.t.max_connection_failures:
                    self._give_up(result.reply)  # a server that drops every message: stop, do not loop
                    return
        except asyncio.CancelledError:
            cancelled = True  # stopped at once: no polite QUIT, a reply may still be on its way
            raise
        finally:
            if job is not None and not sending:
                self.source.done(Result(job, DeliveryStatus.UNSENT, reply="not sent: the run stopped first"))
            self.active -= 1
            if cancelled and smtp is not None:
                smtp.close()
            else:
                await close_politely(smtp)

    async def _connect_or_none(self, failures: int) -> aiosmtplib.SMTP | None:
        try:
            smtp = await self.connector.connect()
        except Fatal as exc:
            self.halt(str(exc), fatal=True)
            return None
        except ConnectionFailed as exc:
            self._last_error = str(exc)
            if exc.setting and self.report.connections == 0:  # never connected: the config is wrong
                self.halt(f"{exc.setting}: {exc}", fatal=True)
                return None
            if failures == 0:
                self.on_event(f"cannot connect to {self.t.label} ({exc}); retrying")
            return None
        self.report.connections += 1
        return smtp

    def _count(self, result: Result, failures: int) -> int:
        """Feed the rate limiter; a delivered message proves the connection works."""
        if result.status is DeliveryStatus.SENT:
            self.limiter.succeeded()
            self.delivered += 1
            return 0
        if result.uncertain:
            return failures + 1  # the connection broke: counts toward max_connection_failures
        if 400 <= result.code < 500:
            reason = self._signal(result)
            if reason is None:
                self.report.deferrals += 1
            else:
                self.report.throttled += 1
                if self.limiter.slow_down(reason):
                    self.report.slowdowns[reason] += 1
                    self.report.lowest_rate = self.limiter.lowest
                    self.on_event(f"the server asked to slow down ({result.summary}); pace now "
                                  f"{self.limiter.rate:.1f} msgs/s")
        return failures

    def _signal(self, result: Result) -> str | None:
        """The reason to slow the pool for this 4xx, or None when it concerns the recipient only."""
        reason = pace_signal(result)
        if reason not in ("mail", "data"):
            return reason
        now = time.monotonic()
        refusals = self._stage_refusals
        refusals.append((now, result.job.recipient))
        while refusals and now - refusals[0][0] > MANY_WINDOW:
            refusals.popleft()
        if len({recipient for _, recipient in refusals}) < MANY:
            return None
        refusals.clear()
        return f"4xx to {'MAIL FROM' if reason == 'mail' else 'DATA'} for many recipients"

    def _give_up(self, reason: str) -> None:
        """Too many failures in a row on this slot: retire it, or stop the run if it is the last."""
        if self.active > 1 and not self.stop.is_set():
            self.report.retired += 1
            failures = self.t.max_connection_failures
            self.on_event(f"a connection to {self.t.label} failed {failures} time{'s' * (failures != 1)} "
                          f"in a row ({reason}); going on with {self.active - 1}")
            return
        failures = self.t.max_connection_failures
        self.halt(f"{failures} connection failure{'s' * (failures != 1)} in a row to {self.t.label}: {reason}")

    async def _backoff(self, failures: int) -> None:
        delay = self.t.backoff(failures) * random.uniform(0.8, 1.2)
        try:
            await asyncio.wait_for(self.stop.wait(), delay)
        except TimeoutError:
            pass


async def deliver(source: JobSource, transport: Transport, *, stop: asyncio.Event | None = None,
                  on_event: Callable[[str], None] | None = None,
                  on_wait: Callable[[str], None] | None = None) -> PoolReport:
    """Send every job the source hands out through a pool of `transport.concurrency` connections.

    Returns when the source is exhausted, or when `stop` is set (the messages in flight are
    finished first), or when the pool gives up (`PoolReport.stopped` says why). Every job
    handed out gets exactly one `done` call. `on_wait(what)` says what a connection being
    opened waits for ("" once it is open), for a progress display.
    """
    pool = _Pool(source, transport, stop or asyncio.Event(), on_event, on_wait)
    await asyncio.gather(*(pool.worker() for _ in range(transport.concurrency)))
    return pool.report
