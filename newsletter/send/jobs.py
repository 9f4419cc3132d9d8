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
them when nothing in their themes is new). With a PostgreSQL state a claim is larger
(fewer commits), so the claimed jobs still waiting here are checked against the list
again, before the next ones are handed out, whenever a suppression has been announced
(every suppression the tool writes, on any machine, sends a NOTIFY the run listens
for). Either way, at most the jobs already handed to connections (about one per
connection) can still go to an address just suppressed.

A PostgreSQL state that goes away mid-run (a restart, a network blip) pauses the run:
each journal call waits for the server and is made again (recording an outcome twice
changes nothing), then sending goes on. Nothing is sent while the journal cannot record it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import time
from collections import deque
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any, TypeVar

from newsletter import journal
from newsletter.audience import Subscriber
from newsletter.config import ordered, stored_choice
from newsletter.deliver import Job, Result
from newsletter.errors import NewsletterError
from newsletter.journal import DeliveryStatus, RecipientState, SkipReason, SuppressionReason
from newsletter.send.dkim import DkimSigner, Unsigned
from newsletter.send.messages import Composer, envelope_sender, long_header_line
from newsletter.send.plan import SendPlan
from newsletter.send.report import SendReport
from newsletter.send.signpool import SigningPool

__all__ = ["FLUSH_SECONDS", "JournalJobs", "OnResult"]

FLUSH_SECONDS = 0.2  # results are committed at least this often (bounds the "possible duplicates")
# With a PostgreSQL state a claim takes up to SERVER_CLAIM recipients, but never more than
# SERVER_CLAIM_SECONDS of the configured rate: fewer, larger transactions keep the send as
# fast as on SQLite, while an opt-out still counts within a fraction of a second.
SERVER_CLAIM = 128
# With DKIM a claim takes at least SIGNING_BATCH recipients per signing worker, and the next
# is claimed and signed while the connections send this one: the workers wake once per
# batch (each wake costs them more than a signature's worth of bookkeeping otherwise),
# and a connection never waits for a signature.
SIGNING_BATCH = 16
SIGNING_AHEAD = 3  # batches at the workers at once: one is signed while the loop prepares the next
COMPOSE_CHUNK = 4  # signed messages composed between two turns of the connections
SERVER_CLAIM_SECONDS = 0.25

OnResult = Callable[[str], None]
T = TypeVar("T")


class JournalJobs:
    """The pool's job source: claims recipients from the journal and records their results.

    Claims are small (about one per connection) and committed before the jobs are handed
    out; results are committed with the next claim or within FLUSH_SECONDS. Recipients a
    4xx deferred wait in a heap and are claimed again when due.
    """

    def __init__(self, db: journal.Db, run_id: int, plan: SendPlan, composer: Composer,
                 stop: asyncio.Event, report: SendReport, on_result: OnResult,
                 signing: SigningPool | None = None, on_event: OnResult | None = None) -> None:
        self.db = db
        self.on_event = on_event or (lambda message: None)
        self.run_id = run_id
        self.plan = plan
        self.composer = composer
        self.stop = stop
        self.report = report
        self.on_result = on_result
        transport = plan.transport
        rate = transport.rate if transport else None
        concurrency = transport.concurrency if transport else plan.concurrency
        self.batch = max(1, min(concurrency, int(rate) if rate else concurrency))
        self.queue: deque[Job] = deque()
        # the journal keeps the name, not the `first_name` column: take it from the list as it is now
        self.first_names = {s.key: s.first_name for s in plan.subscribers.subscribers if s.first_name}
        self.languages = {s.key: s.language for s in plan.subscribers.subscribers if s.language}
        self.retries: list[tuple[float, int, str]] = []
        self.tries: dict[str, int] = {}  # attempts so far, only for those waiting to retry (memory stays flat)
        self.outcomes: list[journal.Outcome] = []
        self.exhausted = False
        self.error: NewsletterError | None = None  # the run cannot go on (state file, signing): it stops
        self._journal_broken = False  # the state file refuses writes: nothing more is written
        self.outstanding = 0
        self.changed = asyncio.Event()
        self.last_flush = time.monotonic()
        self.handed = 0  # jobs handed out since the queue was last checked against the opt-outs
        self._seq = 0
        self.signing = signing if composer.signer is not None else None
        # batches claimed and at the workers for their signatures (SIGNING_AHEAD at most), and
        # the jobs of a batch whose signing failed (handed back by `close`)
        self._signing: dict[asyncio.Future[None], list[str]] = {}  # batch -> its address keys
        self._unsigned_left: list[str] = []  # keys of a batch whose signing failed: `close` hands them back
        self._crashed: BaseException | None = None  # a bug in a signing batch: raised from next_job
        if self.signing is not None:  # batches big enough to keep every worker busy, signed ahead
            self.batch = max(self.batch, SIGNING_BATCH * self.signing.workers)
        self.window = self.batch  # jobs handed out between two looks at the opt-outs, as on SQLite
        db.listen("suppressions")
        if db.postgresql:  # a durable commit costs a server round trip and an fsync: claim more at once
            self.batch = max(self.batch, min(SERVER_CLAIM, int(rate * SERVER_CLAIM_SECONDS) if rate else SERVER_CLAIM))

    async def next_job(self) -> Job | None:
        while not self.stop.is_set():
            if self.queue and self.handed >= self.window and self._journal(lambda db: db.notified()):
                self._drop_suppressed()
                continue
            if self.queue:
                self.outstanding += 1
                self.handed += 1
                job = self.queue.popleft()
                if self.signing is not None and len(self.queue) < 2 * self.batch:
                    self._sign_ahead()
                return job
            if self._signing:  # the workers are signing the next batches; a stop ends the wait
                stopping: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
                try:
                    await asyncio.wait([*self._signing, stopping], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopping.cancel()
                if self._crashed is not None:
                    raise self._crashed
                continue
            due = self._due()
            if due or not self.exhausted:
                if self._refill(due) or self.queue or self._signing:
                    continue  # a claim that came back all skipped (opt-outs) is no reason to stop
            if self.retries:
                await self._wait(self.retries[0][0] - time.monotonic())
            elif self.outstanding:
                await self._wait(None)
            else:
                return None
        return None

    def _drop_suppressed(self) -> None:
        """A second look at the claimed jobs waiting here: anyone suppressed since their claim
        is skipped, not sent. On PostgreSQL only when a suppression was announced (NOTIFY by
        journal.suppress*) since the last look: no round trip otherwise."""
        self.handed = 0
        waiting = [job.key for job in self.queue]
        gone = self._journal(lambda db: journal.suppression_reasons(db, waiting))
        if not gone:
            return
        self.queue = deque(job for job in self.queue if job.key not in gone)
        for key, reason in gone.items():
            self.outcomes.append(journal.Outcome(key, RecipientState.SKIPPED,
                                                 f"{SkipReason.SUPPRESSED_DURING_RUN} ({reason})"))
            self.report.unsubscribed_during_run += 1
            self.on_result(RecipientState.SKIPPED)

    def _sign_ahead(self) -> None:
        """With DKIM, claim and sign the next batch while the connections send this one."""
        while len(self._signing) < SIGNING_AHEAD and not self.stop.is_set():
            due = self._due()
            if not (due or not self.exhausted) or not self._refill(due):
                return

    async def _sign(self, claimed: list[tuple[journal.RecipientRow, Subscriber, str, int]], date: str) -> None:
        """Compose the batch's messages, a few at a time, then the workers sign their digests;
        then its jobs join the queue, in claim order.

        Composing 32 signed messages is milliseconds of the loop's time: done in one go, every
        connection would wait for it, and the receiving server with them, so the loop lets
        the connections move between every COMPOSE_CHUNK messages.
        """
        assert self.signing is not None
        settled: set[str] = set()  # keys queued or failed here: the rest go back if this batch fails
        try:
            batch: list[tuple[Job, Unsigned]] = []
            for n, (row, subscriber, sender, attempts) in enumerate(claimed):
                if n and n % COMPOSE_CHUNK == 0:
                    await asyncio.sleep(0)
                prepared = self.composer.prepare(subscriber, row.message_id, date)
                if prepared is None or prepared[1] is None:  # the template takes the whole way: signed here
                    data, stuffed = self.composer.wire(subscriber, row.message_id, date)
                    self._enqueue(Job(row.key, sender, row.email, data, attempts, stuffed=stuffed))
                    settled.add(row.key)
                    continue
                job = Job(row.key, sender, row.email, prepared[0], attempts, stuffed=True)
                if self._too_long(job):
                    settled.add(row.key)
                else:
                    batch.append((job, prepared[1]))
            signatures = await self.signing.sign([unsigned.digest for _, unsigned in batch])
            for (job, unsigned), signature in zip(batch, signatures, strict=True):
                job.head = DkimSigner.header(unsigned, signature)  # goes before the message on the wire: no copy
                self.queue.append(job)
                settled.add(job.key)
        except NewsletterError as exc:  # the signing processes kept dying: stop, the batch goes back unsent
            self._unsigned_left += [row.key for row, *_ in claimed if row.key not in settled]
            self._failed(exc, journal_ok=True)
        except Exception as exc:  # a bug: the run stops on it (from next_job), not in a task nobody awaits
            self._unsigned_left += [row.key for row, *_ in claimed if row.key not in settled]
            self._crashed = exc
            self.stop.set()
        finally:
            self._signing.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            self.changed.set()
        if self.error is None and len(self.queue) < 2 * self.batch:  # the next batch is signed while this one goes
            self._sign_ahead()

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

    def _refill(self, due: list[str]) -> int:
        """Claim the next batch (and the retries due); returns how many rows the claim took."""
        want = 0 if self.exhausted else self.batch
        outcomes = self._take_outcomes()
        try:
            rows = self._journal(lambda db: journal.checkpoint(db, self.run_id, outcomes, claim=want, reclaim=due))
        except NewsletterError as exc:
            self._failed(exc, journal_ok=False)
            return 0
        if not self.queue:
            self.handed = 0  # the claim itself just read the opt-outs
        fresh = len(rows) - len(due)
        if fresh < want:
            self.exhausted = True
        date = format_datetime(dt.datetime.now(dt.UTC))  # +0000: RFC 5322's zone, not the obsolete GMT
        claimed = [row for row in rows if row.state is RecipientState.SENDING]
        for row in rows:
            if row.state is RecipientState.SKIPPED:  # on the suppression list since the run was planned
                self.tries.pop(row.key, None)
                self.report.unsubscribed_during_run += 1
                self.on_result(RecipientState.SKIPPED)
        saved = self._journal(lambda db: journal.saved_choices(db, [row.key for row in claimed]))
        to_sign: list[tuple[journal.RecipientRow, Subscriber, str, int]] = []
        for row in claimed:
            subscriber = self._subscriber(row, saved.get(row.key))
            if subscriber is None:
                self.tries.pop(row.key, None)
                self.outcomes.append(journal.Outcome(row.key, RecipientState.SKIPPED, SkipReason.QUIET))
                self.on_result(RecipientState.SKIPPED)
                continue
            sender = envelope_sender(self.plan.config, subscriber, run_id=self.run_id, key=self.composer.key)
            attempts = self.tries.pop(row.key, 0) + 1
            if self.signing is not None:  # composed and signed a few at a time, off this call
                to_sign.append((row, subscriber, sender, attempts))
                continue
            data, stuffed = self.composer.wire(subscriber, row.message_id, date)
            self._enqueue(Job(row.key, sender, row.email, data, attempts, stuffed=stuffed))
        if to_sign:
            self._signing[asyncio.ensure_future(self._sign(to_sign, date))] = [row.key for row, *_ in to_sign]
        return len(rows)

    def _enqueue(self, job: Job) -> None:
        if not self._too_long(job):
            self.queue.append(job)

    def _too_long(self, job: Job) -> bool:
        """A header line over SMTP's limit (a very long name): fail the recipient, not the run."""
        if not long_header_line(job.message):
            return False
        self.outcomes.append(journal.Outcome(job.key, RecipientState.FAILED, "a header line would be over 998 octets"))
        self.report.failed += 1
        return True

    def _subscriber(self, row: journal.RecipientRow, saved: list[str] | None) -> Subscriber | None:
        """The recipient with the themes they chose by now; None if nothing in them is new this time."""
        first_name = self.first_names.get(row.key, "")
        language = self.languages.get(row.key, "")
        if saved is None:
            return Subscriber(row.email, row.name, row.themes, first_name=first_name, language=language)
        if self._quiet(saved):
            return None
        return Subscriber(row.email, row.name, ordered(stored_choice(saved, self.plan.config), self.plan.config),
                          first_name=first_name, language=language)

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
        state: RecipientState
        if result.status is DeliveryStatus.SENT:
            self.report.sent += 1
            state = RecipientState.SENT
        elif result.status is DeliveryStatus.FAILED:
            self.report.failed += 1
            state = RecipientState.FAILED
            if result.hard_bounce:
                self._suppress(result)
        elif result.status is DeliveryStatus.DEFERRED:
            state = RecipientState.DEFERRED
            if result.retry_in is not None and not self.stop.is_set():
                self._seq += 1
                self.tries[key] = result.job.attempts
                heapq.heappush(self.retries, (time.monotonic() + result.retry_in, self._seq, key))
            else:
                self.report.deferred += 1
        else:  # unsent: handed back untried
            state = RecipientState.PENDING
            self.exhausted = False
        self.report.possible_duplicates += result.uncertain
        self.outcomes.append(journal.Outcome(key, state, result.summary if state is not RecipientState.PENDING else "",
                                             possible_duplicate=result.uncertain,
                                             relay=self.plan.relay if state is RecipientState.SENT else ""))
        self.changed.set()
        self.on_result(state)
        if time.monotonic() - self.last_flush >= FLUSH_SECONDS or len(self.outcomes) >= 256:
            self.flush()

    def _suppress(self, result: Result) -> None:
        if self._journal_broken:
            return
        try:
            if self._journal(lambda db: journal.suppress(db, result.job.key, SuppressionReason.HARD_BOUNCE,
                                                         f"smtp:{result.summary}"[:300])):
                self.report.suppressed += 1
        except NewsletterError as exc:
            self._failed(exc, journal_ok=False)

    def flush(self) -> None:
        if self.outcomes and not self._journal_broken:
            outcomes = self._take_outcomes()
            try:
                self._journal(lambda db: journal.checkpoint(db, self.run_id, outcomes))
            except NewsletterError as exc:
                self._failed(exc, journal_ok=False)

    def _journal(self, call: Callable[[journal.Db], T]) -> T:
        """`call(db)`, made again once the state is back if the server went away (PostgreSQL);
        a server that stays away past `Db.reconnect`'s wait raises, and the run stops (`_failed`)."""
        while True:
            try:
                return call(self.db)
            except journal.StateUnavailable:
                self.db.reconnect(on_wait=self.on_event)
                self.on_event("the state database is back: going on")

    def _failed(self, exc: NewsletterError, *, journal_ok: bool) -> None:
        """Something the run cannot go on without failed: stop; the run raises `error` once it is over.

        When it is the state file refusing writes (disk full, read-only), nothing more is
        written: what was claimed stays `sending` in the file, so the next run resends it
        as a possible duplicate rather than losing anyone."""
        if self.error is None:
            self.error = exc
        if not journal_ok:
            self._journal_broken = True
            self.outcomes = []
        self.stop.set()

    def close(self) -> None:
        """Hand back what was claimed but never sent; waiting retries stay deferred for next time."""
        queued = {job.key for job in self.queue}  # a batch may have queued some before it was cancelled
        waiting = [key for keys in self._signing.values() for key in keys if key not in queued]
        for task in self._signing:
            task.cancel()
        self._signing.clear()
        for key in [*queued, *waiting, *self._unsigned_left]:
            self.outcomes.append(journal.Outcome(key, RecipientState.PENDING))
        self.queue.clear()
        self._unsigned_left = []
        self.report.deferred += len(self.retries)
        self.retries.clear()
        self.flush()
