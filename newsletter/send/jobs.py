"""The journal job source: the pool's job source during a run, and the only writer of its results.

The delivery pool (deliver/pool.py) knows SMTP and nothing of the journal; this job source claims
recipients from the journal in small batches (`sending`, committed before they go out),
makes each one's message, and records every result in the next short transaction
(`sent` only after the server's 250). Retries of deferred recipients wait here, in memory,
until due; a hard bounce goes on the suppression list at once.

Opt-outs count at once: every claim re-reads the suppression list in the claiming
transaction (journal.checkpoint), so an address unsubscribed a moment ago comes back
`skipped` rather than `sending`; and it re-reads the claimed subscribers' saved theme
choices, so a "Manage your topics" change made mid-run picks their variant (or skips
them when nothing in their themes is new). At most the jobs already handed to
connections (about one per connection) can still go to an address just suppressed.
"""

from __future__ import annotations

import asyncio
import heapq
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate

from newsletter import journal
from newsletter.audience import Subscriber, ordered, stored_choice
from newsletter.deliver import Job, Result
from newsletter.issue import QUIET_REASON
from newsletter.send.dkim import Unsigned
from newsletter.send.messages import Composer, envelope_sender, long_header_line
from newsletter.send.plan import SendPlan
from newsletter.send.report import SendReport
from newsletter.send.signpool import SigningPool

__all__ = ["FLUSH_SECONDS", "JournalJobs", "OnResult"]

FLUSH_SECONDS = 0.2  # results are committed at least this often (bounds the "possible duplicates")

OnResult = Callable[[str], None]


class JournalJobs:
    """The pool's job source: claims recipients from the journal and records their results.

    Claims are small (about one per connection) and committed before the jobs are handed
    out; results are committed with the next claim or within FLUSH_SECONDS. Recipients a
    4xx deferred wait in a heap and are claimed again when due.
    """

    def __init__(self, db: sqlite3.Connection, run_id: int, plan: SendPlan, composer: Composer,
                 stop: asyncio.Event, report: SendReport, on_result: OnResult,
                 signing: SigningPool | None = None) -> None:
        self.db = db
        self.run_id = run_id
        self.plan = plan
        self.composer = composer
        self.stop = stop
        self.report = report
        self.on_result = on_result
        transport = plan.transport
        rate = transport.rate if transport else None
        concurrency = transport.concurrency if transport else plan.concurrency or 4
        self.batch = max(1, min(concurrency, int(rate) if rate else concurrency))
        self.queue: deque[Job] = deque()
        self.retries: list[tuple[float, int, str]] = []
        self.tries: dict[str, int] = {}  # attempts so far, only for those waiting to retry (memory stays flat)
        self.outcomes: list[journal.Outcome] = []
        self.exhausted = False
        self.outstanding = 0
        self.changed = asyncio.Event()
        self.last_flush = time.monotonic()
        self._seq = 0
        self.signing = signing if composer.signer is not None else None
        self._signing_task: asyncio.Task[None] | None = None
        self._unsigned: list[tuple[Job, Unsigned]] = []  # claimed, at the workers for their signature
        if self.signing is not None:  # batches big enough to keep every worker busy, signed ahead
            self.batch = max(self.batch, 4 * self.signing.workers)

    async def next_job(self) -> Job | None:
        while not self.stop.is_set():
            if self.queue:
                self.outstanding += 1
                job = self.queue.popleft()
                if self.signing is not None and len(self.queue) < self.batch // 2:
                    self._sign_ahead()
                return job
            if self._signing_task is not None:
                await self._signing_task
                continue
            due = self._due()
            if due or not self.exhausted:
                self._refill(due)
                if self.queue or self._signing_task is not None:
                    continue
            if self.retries:
                await self._wait(self.retries[0][0] - time.monotonic())
            elif self.outstanding:
                await self._wait(None)
            else:
                return None
        return None

    def _sign_ahead(self) -> None:
        """With DKIM, claim and sign the next batch while the connections send this one."""
        if self._signing_task is None and not self.stop.is_set():
            due = self._due()
            if due or not self.exhausted:
                self._refill(due)

    async def _sign(self) -> None:
        """The workers sign the batch's digests; then its jobs join the queue, in claim order."""
        assert self.signing is not None
        try:
            signatures = await self.signing.sign([unsigned.digest for _, unsigned in self._unsigned])
            for (job, unsigned), signature in zip(self._unsigned, signatures, strict=True):
                job.message = self.composer.finish(job.message, unsigned, signature)
                self.queue.append(job)
            self._unsigned = []
        finally:
            self._signing_task = None
            self.changed.set()

    def _due(self) -> list[str]:
        now = time.monotonic()
        due: list[str] = []
        while self.retries and self.retries[0][0] <= now and len(due) < self.batch:
            due.append(heapq.heappop(self.retries)[2])
        return due

    async def _wait(self, timeout: float | None) -> None:
        self.changed.clear()
        waiters = [asyncio.ensure_future(self.changed.wait()), asyncio.ensure_future(self.stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=None if timeout is None else max(0.0, timeout),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _refill(self, due: list[str]) -> None:
        want = 0 if self.exhausted else self.batch
        rows = journal.checkpoint(self.db, self.run_id, self._take_outcomes(), claim=want, reclaim=due)
        fresh = len(rows) - len(due)
        if fresh < want:
            self.exhausted = True
        date = formatdate(usegmt=True)
        claimed = [row for row in rows if row.state == "sending"]
        for row in rows:
            if row.state == "skipped":  # on the suppression list since the run was planned
                self.tries.pop(row.email, None)
                self.report.unsubscribed_during_run += 1
                self.on_result("skipped")
        saved = journal.saved_choices(self.db, [row.email for row in claimed])
        for row in claimed:
            subscriber = self._subscriber(row, saved.get(row.email))
            if subscriber is None:
                self.tries.pop(row.email, None)
                self.outcomes.append(journal.Outcome(row.email, "skipped", QUIET_REASON))
                self.on_result("skipped")
                continue
            sender = envelope_sender(self.plan.config, subscriber, run_id=self.run_id, key=self.composer.key)
            attempts = self.tries.pop(row.email, 0) + 1
            prepared = self.composer.prepare(subscriber, row.message_id, date) if self.signing else None
            unsigned = prepared[1] if prepared is not None else None
            if prepared is not None and unsigned is not None:
                job = Job(row.email, sender, row.address, prepared[0], attempts, stuffed=True)
                if not self._too_long(job):
                    self._unsigned.append((job, unsigned))
                continue
            data, stuffed = self.composer.wire(subscriber, row.message_id, date)
            job = Job(row.email, sender, row.address, data, attempts, stuffed=stuffed)
            if not self._too_long(job):
                self.queue.append(job)
        if self._unsigned:
            self._signing_task = asyncio.ensure_future(self._sign())

    def _too_long(self, job: Job) -> bool:
        """A header line over SMTP's limit (a very long name): fail the recipient, not the run."""
        if not long_header_line(job.message):
            return False
        self.outcomes.append(journal.Outcome(job.key, "failed", "a header line would be over 998 octets"))
        self.report.failed += 1
        return True

    def _subscriber(self, row: journal.RecipientRow, saved: list[str] | None) -> Subscriber | None:
        """The recipient with the themes they chose by now; None if nothing in them is new this time."""
        if saved is None:
            return Subscriber(row.address, row.name, row.themes)
        if self._quiet(saved):
            return None
        return Subscriber(row.address, row.name, ordered(stored_choice(saved, self.plan.config), self.plan.config))

    def _quiet(self, saved: list[str]) -> bool:
        config = self.plan.config
        variants = self.plan.variants
        if config.quiet_month or variants is None:
            return False
        return variants.is_quiet(ordered(stored_choice(saved, config), config))

    def _take_outcomes(self) -> list[journal.Outcome]:
        outcomes, self.outcomes = self.outcomes, []
        self.last_flush = time.monotonic()
        return outcomes

    def done(self, result: Result) -> None:
        self.outstanding -= 1
        key = result.job.key
        if result.status == "sent":
            self.report.sent += 1
            state = "sent"
        elif result.status == "failed":
            self.report.failed += 1
            state = "failed"
            if result.hard_bounce:
                self._suppress(result)
        elif result.status == "deferred":
            state = "deferred"
            if result.retry_in is not None and not self.stop.is_set():
                self._seq += 1
                self.tries[key] = result.job.attempts
                heapq.heappush(self.retries, (time.monotonic() + result.retry_in, self._seq, key))
            else:
                self.report.deferred += 1
        else:  # unsent: handed back untried
            state = "pending"
            self.exhausted = False
        self.report.possible_duplicates += result.uncertain
        self.outcomes.append(journal.Outcome(key, state, result.summary if state != "pending" else "",
                                             possible_duplicate=result.uncertain))
        self.changed.set()
        self.on_result(state)
        if time.monotonic() - self.last_flush >= FLUSH_SECONDS or len(self.outcomes) >= 256:
            self.flush()

    def _suppress(self, result: Result) -> None:
        if journal.suppress(self.db, result.job.key, "hard-bounce", f"smtp:{result.summary}"[:300]):
            self.report.suppressed += 1

    def flush(self) -> None:
        if self.outcomes:
            journal.checkpoint(self.db, self.run_id, self._take_outcomes())

    def close(self) -> None:
        """Hand back what was claimed but never sent; waiting retries stay deferred for next time."""
        if self._signing_task is not None:
            self._signing_task.cancel()
        for job in [*self.queue, *(job for job, _ in self._unsigned)]:
            self.outcomes.append(journal.Outcome(job.key, "pending"))
        self.queue.clear()
        self._unsigned = []
        self.report.deferred += len(self.retries)
        self.retries.clear()
        self.flush()
