"""The send stage: subscribers minus suppressions -> one message each -> SMTP, journaled.

`prepare_send` (plan.py) reads the list, the suppressions and the journal and says
what a run would do without writing anything; `send_issue` here then does it: writes
the plan into the journal, holds the one-sender lock, starts the transport (deliver/relay.py)
and lets the delivery pool (deliver/pool.py) pull jobs from the journal job source (jobs.py)
until done, stopped or interrupted, then sums up (report.py). `dry_run` composes
every message (messages.py) without connecting; `send_test` (testsend.py) sends the
current build to a few addresses, leaving the journal alone.

A run is per issue: running the same command again resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import time
from collections.abc import Callable, Iterator
from email.utils import format_datetime
from pathlib import Path

from newsletter import journal
from newsletter.config import Config
from newsletter.deliver import PoolReport, Transport, deliver, with_transport
from newsletter.errors import SendError
from newsletter.issue import MAX_LINE_OCTETS
from newsletter.journal import RecipientState, SkipReason, SuppressionReason
from newsletter.send.jobs import JournalJobs, OnResult
from newsletter.send.messages import (
    Composer,
    TemplateCache,
    load_signer_for,
    new_message_id,
)
from newsletter.send.plan import SendPlan, exclusion
from newsletter.send.report import (
    DryRunReport,
    FailedRecipient,
    SendReport,
    write_failures_csv,
)
from newsletter.send.signpool import SigningPool

__all__ = ["dry_run", "send_issue"]

OnEvent = Callable[[str], None]


def _composer(plan: SendPlan) -> Composer:
    """The run's message maker: the plan's theme variants, its token keys, its DKIM signer."""
    return Composer(plan.config, TemplateCache(plan.build.rendered, plan.config, variants=plan.variants),
                    plan.keys, load_signer_for(plan.config))


def _apply(db: journal.Db, plan: SendPlan) -> tuple[journal.Run, int]:
    """Write the plan into the journal; returns the run and how many crash leftovers it resends."""
    if plan.rehearsal and plan.run is None:  # rehearsing again: the last rehearsal's rows go
        done = journal.get_run(db, plan.slug, journal.RunKind.REHEARSAL)
        if done is not None and done.finished:
            journal.restart_run(db, done.id)
    run = journal.open_run(db, plan.slug, subject=plan.build.rendered.subject, digest=plan.digest,
                           subscribers=str(plan.subscribers.path), kind=plan.kind)
    in_flight = journal.recover_in_flight(db, run.id)
    if plan.retry_failed:
        journal.retry_failed(db, run.id)
    states = journal.recipient_states(db, run.id)
    subscribers, unsubscribed = plan.subscribers.subscribers, plan.subscribers.unsubscribed
    wanted: list[tuple[str, str, str, tuple[str, ...] | None]] = []
    skip: list[tuple[str, str]] = []
    if states:  # a resume: bring the existing rows in line with the list as it is now
        listed = set()
        for s in subscribers:
            key = s.key
            listed.add(key)
            if key in states:
                reason = exclusion(plan, key)
                if reason:
                    skip.append((key, reason))
                else:
                    wanted.append((key, s.email, s.name, s.themes))
        for s in unsubscribed:
            listed.add(s.key)
            if s.key in states:
                skip.append((s.key, SkipReason.UNSUBSCRIBED_IN_LIST))
        skip += [(key, SkipReason.GONE) for key in states if key not in listed]

    def new() -> Iterator[journal.NewRecipient]:  # streamed: no second copy of a long list
        for s in subscribers:
            key = s.key
            if key not in states:
                reason = exclusion(plan, key)
                if reason == SuppressionReason.ERASED:
                    continue  # `person forget`: the address is never written down again
                yield journal.NewRecipient(key, s.email, s.name, s.themes,
                                           RecipientState.SKIPPED if reason else RecipientState.PENDING,
                                           reason or "", new_message_id(plan.config, run.id), s.language)
        for s in unsubscribed:
            if s.key not in states:
                yield journal.NewRecipient(s.key, s.email, s.name, s.themes, RecipientState.SKIPPED,
                                           SkipReason.UNSUBSCRIBED_IN_LIST, new_message_id(plan.config, run.id))

    journal.apply_plan(db, run.id, new=new(), wanted=wanted, skip=skip)
    return run, in_flight


@contextlib.contextmanager
def _send_lock(config: Config) -> Iterator[None]:
    """One sending process per newsletter folder: a second one would steal the first's claims.
    With a PostgreSQL state, `_run` also takes an advisory lock per issue on the server, so
    two machines sharing the state cannot both send one issue."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = config.root / ".newsletter-send.lock"
    try:
        fh = open(path, "a+")  # noqa: SIM115 - closed by the `with` below
    except OSError as exc:
        raise SendError(f"cannot create the send lock: {exc.strerror}", path=path,
                        hint="the newsletter folder must be writable by this user") from exc
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise SendError("another `newsletter send` is running for this newsletter", path=config.root,
                            hint="wait for it to finish (or stop it with Ctrl-C), then run this again") from exc
        yield


def _install_signals(stop: asyncio.Event, on_event: OnEvent) -> Callable[[], None]:
    """Ctrl-C (or SIGTERM) once: finish the messages in flight, record them, stop. Twice: now."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def handle() -> None:
        if stop.is_set():
            if task is not None:
                task.cancel()
            return
        stop.set()
        on_event("stopping: finishing the messages in flight (Ctrl-C again to stop at once)")

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handle)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove


async def _run(plan: SendPlan, report: SendReport, on_result: OnResult, on_event: OnEvent,
               handle_signals: bool, on_wait: OnEvent | None = None) -> None:
    """The run itself: journal the plan, deliver through the feed until done or stopped, sum up."""
    stop = asyncio.Event()
    remove = _install_signals(stop, on_event) if handle_signals else (lambda: None)
    composer = _composer(plan)
    # the signing workers start (and import) while the plan is journaled
    signing = SigningPool(composer.signer.pem) if composer.signer is not None else None
    db = journal.connect(plan.config.state)
    try:
        if not db.try_lock(f"send:{plan.slug}"):
            raise SendError(f"another `newsletter send` of {plan.slug} is running on this state ({db.state})",
                            hint="wait for it to finish (on whichever machine runs it), then run this again")
        run, in_flight = _apply(db, plan)
        report.possible_duplicates += in_flight
        jobs = JournalJobs(db, run.id, plan, composer, stop, report, on_result, signing, on_event)

        async def body(transport: Transport, outbox: Path | None) -> PoolReport:
            report.outbox = outbox
            try:
                return await deliver(jobs, transport, stop=stop, on_event=on_event, on_wait=on_wait)
            finally:
                jobs.close()

        started = time.monotonic()
        try:
            pool = await with_transport(plan.transport, plan.config.outbox_dir, body, concurrency=plan.concurrency)
            report.stopped, report.fatal = pool.stopped, pool.fatal
            report.slowdowns, report.lowest_rate = pool.slowdowns, pool.lowest_rate
            report.recipient_deferrals = pool.deferrals
            report.interrupted = stop.is_set() and not pool.stopped
        except asyncio.CancelledError:
            report.interrupted = report.aborted = True
        if jobs.error is not None:
            raise jobs.error  # one error line; the file keeps its last committed state
        report.elapsed = time.monotonic() - started
        _finish(db, run, plan, report)
    finally:
        remove()
        db.close()
        if signing is not None:
            signing.close()


def _finish(db: journal.Db, run: journal.Run, plan: SendPlan, report: SendReport) -> None:
    """Totals from the journal (the truth after a crash too), the failures file, and done if done."""
    totals = journal.run_counts(db, run.id)
    report.totals = totals
    report.remaining = totals[RecipientState.PENDING] + totals[RecipientState.SENDING]
    if report.remaining and not (report.stopped or report.interrupted):  # never exit 3 without a reason
        report.stopped = (f"{report.remaining} recipient{'s' * (report.remaining != 1)} left untried although "
                          "nothing stopped the run")
    report.deferred = totals[RecipientState.DEFERRED]
    report.skipped = totals[RecipientState.SKIPPED]
    report.quiet = sum(1 for r in journal.run_recipients(db, run.id, (RecipientState.SKIPPED,))
                       if r.skip_reason is SkipReason.QUIET)
    problems = journal.run_recipients(db, run.id, (RecipientState.FAILED, RecipientState.DEFERRED))
    report.failures = [FailedRecipient(r.email, r.name, r.state, r.reply) for r in problems]
    if problems:
        path = plan.config.issues_dir / plan.slug / "failures.csv"
        try:
            write_failures_csv(path, problems)
            report.failures_csv = path
        except OSError as exc:  # a full or read-only disk: the summary and the journal matter more
            report.failures_csv_error = f"cannot write {path}: {exc.strerror or exc}"
    if report.complete:
        journal.finish_run(db, run.id)


def send_issue(plan: SendPlan, *, on_result: OnResult | None = None, on_event: OnEvent | None = None,
               handle_signals: bool = True, on_wait: OnEvent | None = None) -> SendReport:
    """Send (or resume) the run the plan describes; returns when done, stopped or interrupted.

    `on_result(state)` is called once per recipient handled (for a progress bar);
    `on_event(message)` for things worth telling the user (throttling, reconnects);
    `on_wait(what)` while a connection waits for the relay ("" when it is open).
    """
    report = SendReport(plan.slug, plan.transport_label, already_sent=plan.already_sent)
    with _send_lock(plan.config):
        asyncio.run(_run(plan, report, on_result or (lambda state: None), on_event or (lambda message: None),
                         handle_signals, on_wait))
    return report


def dry_run(plan: SendPlan) -> DryRunReport:
    """Compose (and sign) every message the run would send, check it, send nothing, write nothing."""
    composer = _composer(plan)
    report = DryRunReport()
    started = time.perf_counter()
    date = format_datetime(dt.datetime.now(dt.UTC))  # +0000: RFC 5322's zone, not the obsolete GMT
    for s in plan.subscribers.subscribers:
        state = plan.states.get(s.key)
        if state == RecipientState.SENT or (state == RecipientState.FAILED and not plan.retry_failed):
            continue
        if exclusion(plan, s.key):
            continue
        message = composer.message(s, new_message_id(plan.config, "dry"), date)
        longest = max(len(line) for line in message.split(b"\r\n"))
        report.messages += 1
        report.total_bytes += len(message)
        report.largest = max(report.largest, len(message))
        report.longest_line = max(report.longest_line, longest)
        if longest > MAX_LINE_OCTETS:
            report.over_limit.append(s.email)
    report.seconds = time.perf_counter() - started
    return report
