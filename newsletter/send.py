"""The send stage: subscribers minus suppressions -> one message each -> SMTP, journaled.

`prepare_send` reads the list, the suppressions and the journal and says what a run would
do (`SendPlan`: who gets it, who is excluded and why, what a resume picks up) without
writing anything; `send_issue` then does it; `dry_run` composes every message without
connecting; `send_test` sends the current build to a few addresses, leaving the journal alone.

The message is compiled once (`TemplateCache`) and filled per recipient; the journal
feed claims recipients in small batches (`sending`, committed before they go out) and
records each result in the next short transaction (`sent` only after the server's 250).
A run is per issue: running the same command again resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import functools
import hashlib
import heapq
import os
import re
import secrets
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parseaddr
from pathlib import Path

from . import journal
from .build import BuildResult, build_issue
from .choices import ThemeChoices, apply_choices
from .compose import MessageTemplate, Recipient, compile_message, fill
from .config import Config, SmtpConfig
from .deliver import Job, PoolReport, Result, Transport, deliver, transport_from_config
from .errors import SendError
from .issue import DateRange
from .outbox import embedded_outbox
from .render import RenderedIssue
from .subscribers import Subscriber, SubscriberList, check_address, read_subscribers
from .tokens import load_secrets, make_token
from .variants import QUIET_REASON, Variants

__all__ = [
    "MAX_LINE_OCTETS",
    "TEST_PREFIX",
    "DryRunReport",
    "Failure",
    "SendPlan",
    "SendReport",
    "Signer",
    "TemplateCache",
    "dry_run",
    "envelope_sender",
    "new_message_id",
    "prepare_send",
    "send_issue",
    "send_test",
    "send_test_async",
    "write_failures_csv",
]

MAX_LINE_OCTETS = 998
TEST_PREFIX = "[TEST] "
FLUSH_SECONDS = 0.2  # results are committed at least this often (bounds the "possible duplicates")

Signer = Callable[[bytes], bytes]
OnResult = Callable[[str], None]
OnEvent = Callable[[str], None]


@functools.lru_cache(maxsize=8)
def _address_of(sender: str) -> str:
    """`config.sender_address` parses the From line on every call; per message that shows."""
    return parseaddr(sender)[1]


def envelope_sender(config: Config, recipient: Subscriber) -> str:
    """MAIL FROM for this recipient: the config's sender address (one place to add VERP later)."""
    return _address_of(config.sender)


def new_message_id(config: Config, run_id: int | str) -> str:
    """`<run-id.random@sender-domain>`: unique per recipient and run, kept across retries."""
    domain = _address_of(config.sender).rpartition("@")[2]
    return f"<nl{run_id}.{secrets.token_hex(10)}@{domain}>"


class TemplateCache:
    """Compiled messages by variant; every per-recipient choice goes through `template_for`.

    The key is the recipient's theme variant (`variants.Variants.key`: None = the whole
    issue); each distinct variant is rendered and compiled once, on first use.
    """

    def __init__(self, rendered: RenderedIssue, config: Config, *, subject_prefix: str = "",
                 variants: Variants | None = None) -> None:
        self.rendered = rendered
        self.config = config
        self.subject_prefix = subject_prefix
        self.variants = variants or Variants(rendered, config)
        self._compiled: dict[object, MessageTemplate] = {}

    def variant(self, recipient: Subscriber) -> object:
        """The cache key for this recipient's message; None = the whole issue."""
        return self.variants.key(recipient.themes)

    def template_for(self, recipient: Subscriber) -> MessageTemplate:
        key = self.variant(recipient)
        template = self._compiled.get(key)
        if template is None:
            rendered = self.variants.rendered(key)  # type: ignore[arg-type]
            template = compile_message(rendered, self.config, subject_prefix=self.subject_prefix)
            _check_static_lines(template)
            self._compiled[key] = template
        return template

    def digest(self) -> str:
        """Identifies the issue's content; a resumed run warns when it changed."""
        template = self.template_for(Subscriber(""))
        h = hashlib.sha256(template.subject.encode())
        for part in template.parts:
            h.update(part if isinstance(part, bytes) else part.encode())
        return h.hexdigest()[:16]


def _check_static_lines(template: MessageTemplate) -> None:
    """Once per template: lines within SMTP's limit and CRLF-only, as the pool relies on."""
    for part in template.parts:
        if not isinstance(part, bytes):
            continue
        if any(len(line) > MAX_LINE_OCTETS for line in part.split(b"\r\n")) or \
                part.count(b"\n") != part.count(b"\r\n") or part.count(b"\r") != part.count(b"\r\n"):
            raise SendError(f"the compiled message has a line over {MAX_LINE_OCTETS} octets or a bare CR/LF",
                            hint="this is a bug in the templates or compose; please report it")


def _long_header_line(message: bytes) -> bool:
    """Per message only the header block has per-recipient text that could make a long line."""
    head = message[: message.find(b"\r\n\r\n")]
    return any(len(line) > MAX_LINE_OCTETS for line in head.split(b"\r\n"))


class _Transparent:
    """A template with SMTP dot-stuffing done ahead, so the pool need not scan each message.

    A line starting with "." must go out as "..". The issue's static parts (its CSS has
    many such lines) are stuffed once here; per message only the short slot values are
    checked. The values come from `fill` on a template of just the slots, so they are
    encoded exactly as `fill` encodes them. `wire()` equals stuffing `fill()`'s output.
    """

    SEPARATOR = b"\x00"  # never in an encoded value (ASCII, controls removed)

    def __init__(self, template: MessageTemplate) -> None:
        slots = [part for part in template.parts if isinstance(part, str)]
        joined: list[bytes | str] = []
        for slot in slots:
            joined += [slot, self.SEPARATOR]
        self.values_only = MessageTemplate(tuple(joined[:-1]), template.subject, template.boundary)
        self.layout: list[int | tuple[bytes, bool, bool]] = []  # slot index | (stuffed, starts ".", ends CRLF)
        index = 0
        for part in template.parts:
            if isinstance(part, str):
                self.layout.append(index)
                index += 1
            else:
                self.layout.append((part.replace(b"\r\n.", b"\r\n.."), part.startswith(b"."), part.endswith(b"\r\n")))
        self.usable = not any(isinstance(p, bytes) and p.endswith(b"\r") for p in template.parts)

    def wire(self, config: Config, recipient: Recipient, **values: str) -> bytes:
        encoded = fill(self.values_only, config, recipient, **values).split(self.SEPARATOR)  # type: ignore[arg-type]
        out = []
        line_start = True
        for item in self.layout:
            if isinstance(item, int):
                value = encoded[item]
                if b"\r\n." in value:
                    value = value.replace(b"\r\n.", b"\r\n..")
                if line_start and value.startswith(b"."):
                    out.append(b".")
                out.append(value)
                line_start = value.endswith(b"\r\n")
            else:
                stuffed, starts_with_dot, ends_line = item
                if line_start and starts_with_dot:
                    out.append(b".")
                out.append(stuffed)
                line_start = ends_line
        return b"".join(out)


class _Composer:
    """Per recipient: pick the template, fill it, sign it. The cheap part of sending."""

    def __init__(self, config: Config, cache: TemplateCache, keys: list[bytes], signer: Signer | None) -> None:
        self.config = config
        self.cache = cache
        self.key = keys[0]
        self.signer = signer
        self._transparent: dict[int, _Transparent] = {}

    def message(self, subscriber: Subscriber, message_id: str, date: str) -> bytes:
        """The message as the subscriber receives it (what DKIM signs and dry runs check)."""
        template = self.cache.template_for(subscriber)
        token = make_token(self.key, self.config.list_id, subscriber.email)
        data = fill(template, self.config, Recipient(subscriber.email, subscriber.name),
                    token=token, message_id=message_id, date=date)
        if self.signer is None:
            return data
        signed = self.signer(data)
        added = signed[: len(signed) - len(data)] if signed.endswith(data) else signed
        if added.count(b"\n") != added.count(b"\r\n"):  # the pool sends bytes as they are
            signed = re.sub(rb"\r?\n", b"\r\n", signed)
        return signed

    def wire(self, subscriber: Subscriber, message_id: str, date: str) -> tuple[bytes, bool]:
        """(bytes for DATA, already dot-stuffed?): the fast path when nothing signs the message."""
        template = self.cache.template_for(subscriber)
        transparent = self._transparent.get(id(template))
        if transparent is None:
            transparent = self._transparent[id(template)] = _Transparent(template)
        if self.signer is not None or not transparent.usable:
            return self.message(subscriber, message_id, date), False
        token = make_token(self.key, self.config.list_id, subscriber.email)
        return transparent.wire(self.config, Recipient(subscriber.email, subscriber.name), token=token,
                                message_id=message_id, date=date), True


def load_signer_for(config: Config) -> Signer | None:
    """The DKIM signer (newsletter/dkim.py), loaded once per run; None without a `dkim:` block."""
    if config.dkim is None:
        return None
    from .dkim import load_signer

    return load_signer(config)


# --- planning ---------------------------------------------------------------------


@dataclass
class SendPlan:
    """What a run will do, computed without writing anything (shown before confirming)."""

    config: Config
    build: BuildResult
    slug: str
    subscribers: SubscriberList
    transport: Transport | None  # None = the embedded outbox
    keys: list[bytes] = field(repr=False, default_factory=list)
    digest: str = ""
    run: journal.Run | None = None
    to_send: int = 0  # recipients this run will try
    new: int = 0  # first time in this run
    in_flight: int = 0  # left "sending" by a crash: resent, possible duplicates
    already_sent: int = 0
    failed_before: int = 0  # failed in an earlier run; not retried unless retry_failed
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> count
    changed: bool = False  # the issue's content differs from when the run started
    retry_failed: bool = False
    concurrency: int | None = None  # --concurrency (also for the embedded outbox)
    suppressions: dict[str, str] = field(default_factory=dict, repr=False)
    states: dict[str, str] = field(default_factory=dict, repr=False)
    choices: ThemeChoices = field(default_factory=ThemeChoices)  # theme selections (issue 9)
    variants: Variants | None = field(default=None, repr=False)
    quiet: set[str] = field(default_factory=set, repr=False)  # nothing in their themes: skipped

    @property
    def resuming(self) -> bool:
        return self.run is not None

    @property
    def transport_label(self) -> str:
        if self.transport is None:
            return f"the local outbox {self.config.outbox_dir} (no mail leaves this machine)"
        return f"{self.transport.label} ({self.transport.security})"


def _smtp_config(config: Config, host: str | None) -> SmtpConfig | None:
    if config.smtp is not None:
        return config.smtp
    return SmtpConfig(host=host) if host else None


def resolve_transport(config: Config, *, host: str | None = None, port: int | None = None,
                      concurrency: int | None = None) -> Transport | None:
    """The configured relay with command-line overrides; None means the embedded outbox."""
    smtp = _smtp_config(config, host)
    if smtp is None:
        if port:
            raise SendError("--smtp-port needs --smtp-host (or an smtp: block in the config)")
        return None
    return transport_from_config(smtp, host=host, port=port, concurrency=concurrency)


def _secrets(config: Config, transport: Transport | None) -> list[bytes]:
    create_in = config.root / ".newsletter-secret" if transport is None else None
    return load_secrets(config.secret_env, config.secret_file, old_env=config.old_secrets_env, create_in=create_in)


def prepare_send(config: Config, build: BuildResult, subscribers_path: Path, *, strict: bool = False,
                 smtp_host: str | None = None, smtp_port: int | None = None, concurrency: int | None = None,
                 retry_failed: bool = False) -> SendPlan:
    """Read everything a run needs and count what it would do; raises before anything is sent."""
    transport = resolve_transport(config, host=smtp_host, port=smtp_port, concurrency=concurrency)
    keys = _secrets(config, transport)
    subscribers = read_subscribers(subscribers_path, strict=strict)
    slug = build.rendered.issue.range.slug
    plan = SendPlan(config, build, slug, subscribers, transport, keys, retry_failed=retry_failed,
                    digest=TemplateCache(build.rendered, config).digest(), concurrency=concurrency)
    with contextlib.closing(journal.connect(config.state_file)) as db:
        plan.run = journal.get_run(db, slug)
        plan.suppressions = {s.email: s.reason for s in journal.list_suppressions(db)}
        plan.states = journal.recipient_states(db, plan.run.id) if plan.run else {}
        plan.subscribers, plan.choices = apply_choices(subscribers, config, journal.all_preferences(db),
                                                       strict=strict)
    plan.variants = Variants(build.rendered, config)
    plan.variants.prepare(plan.variants.key_of(selection) for selection in plan.choices.selections)
    if not config.quiet_month:
        plan.quiet = {s.key for s in plan.subscribers.subscribers if plan.variants.is_quiet(s.themes)}
    plan.changed = bool(plan.run and plan.run.digest and plan.run.digest != plan.digest)
    _count(plan)
    return plan


def _exclusion(plan: SendPlan, key: str) -> str | None:
    reason = plan.suppressions.get(key)
    if reason:
        return f"suppressed ({reason})"
    return QUIET_REASON if key in plan.quiet else None


def _count(plan: SendPlan) -> None:
    excluded: dict[str, int] = {}

    def exclude(reason: str, n: int = 1) -> None:
        if n:
            excluded[reason] = excluded.get(reason, 0) + n

    for s in plan.subscribers.subscribers:
        state = plan.states.get(s.key)
        reason = _exclusion(plan, s.key)
        if state == "sent":
            plan.already_sent += 1
        elif state == "failed" and not plan.retry_failed:
            plan.failed_before += 1
        elif reason:
            exclude(reason)
        elif state == "sending":
            plan.in_flight += 1
            plan.to_send += 1
        else:
            plan.to_send += 1
            plan.new += state is None
    exclude("unsubscribed in the list", len(plan.subscribers.unsubscribed))
    exclude("duplicate rows", len(plan.subscribers.duplicates))
    exclude("invalid rows", len(plan.subscribers.invalid))
    if plan.states:
        listed = {s.key for s in plan.subscribers.subscribers} | {s.key for s in plan.subscribers.unsubscribed}
        gone = sum(1 for key, state in plan.states.items() if key not in listed and state in ("pending", "deferred"))
        exclude("no longer in the list", gone)
    plan.excluded = excluded


# --- the journal feed -------------------------------------------------------------


class _Feed:
    """The pool's job source: claims recipients from the journal and records their results.

    Claims are small (about one per connection) and committed before the jobs are handed
    out; results are committed with the next claim or within FLUSH_SECONDS. Recipients a
    4xx deferred wait in a heap and are claimed again when due.
    """

    def __init__(self, db: sqlite3.Connection, run_id: int, plan: SendPlan, composer: _Composer,
                 stop: asyncio.Event, report: SendReport, on_result: OnResult) -> None:
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

    async def next_job(self) -> Job | None:
        while not self.stop.is_set():
            if self.queue:
                self.outstanding += 1
                return self.queue.popleft()
            due = self._due()
            if due or not self.exhausted:
                self._refill(due)
                if self.queue:
                    continue
            if self.retries:
                await self._wait(self.retries[0][0] - time.monotonic())
            elif self.outstanding:
                await self._wait(None)
            else:
                return None
        return None

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
        for row in rows:
            subscriber = Subscriber(row.address, row.name, row.themes)
            data, stuffed = self.composer.wire(subscriber, row.message_id, date)
            job = Job(row.email, envelope_sender(self.plan.config, subscriber), row.address, data,
                      self.tries.pop(row.email, 0) + 1, stuffed=stuffed)
            if _long_header_line(job.message):
                self.outcomes.append(journal.Outcome(row.email, "failed", "a header line would be over 998 octets"))
                self.report.failed += 1
                continue
            self.queue.append(job)

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
        for job in self.queue:
            self.outcomes.append(journal.Outcome(job.key, "pending"))
        self.queue.clear()
        self.report.deferred += len(self.retries)
        self.retries.clear()
        self.flush()


# --- reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    email: str
    name: str
    state: str  # failed | deferred
    reply: str


@dataclass
class SendReport:
    """What a run (or a test send) did, for the summary table and the exit status."""

    slug: str
    transport: str
    outbox: Path | None = None  # set when the embedded outbox was used
    test: bool = False
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    quiet: int = 0  # of the skipped: nothing in their chosen themes this time (issue 9)
    suppressed: int = 0  # hard bounces added to the suppression list during this run
    possible_duplicates: int = 0  # resent after a crash, or connection lost mid-message
    already_sent: int = 0
    remaining: int = 0  # still pending (the run stopped early)
    stopped: str | None = None
    fatal: bool = False
    interrupted: bool = False
    aborted: bool = False  # a second Ctrl-C: what was in flight is left for the next run to report
    elapsed: float = 0.0
    totals: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    failures_csv: Path | None = None

    @property
    def complete(self) -> bool:
        """Nothing left to do: every recipient is sent, failed or skipped."""
        return not (self.stopped or self.interrupted or self.deferred or self.remaining)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def __str__(self) -> str:
        parts = [f"{self.sent} sent"]
        parts += [f"{n} {label}" for n, label in ((self.deferred, "deferred"), (self.failed, "failed")) if n]
        where = "into the local outbox (no mail left this machine)" if self.outbox else f"via {self.transport}"
        text = f"{', '.join(parts)} {where}"
        if self.failures:
            text += "; " + "; ".join(f"{f.email}: {f.reply}" for f in self.failures[:3])
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


@dataclass
class DryRunReport:
    messages: int = 0
    total_bytes: int = 0
    largest: int = 0
    longest_line: int = 0
    seconds: float = 0.0
    over_limit: list[str] = field(default_factory=list)  # addresses whose message has a line over 998


def write_failures_csv(path: Path, rows: list[journal.RecipientRow]) -> None:
    """email,name,state,attempts,reply: the recipients not sent, for a spreadsheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name", "state", "attempts", "reply"])
        for row in rows:
            writer.writerow([row.address, row.name, row.state, row.attempts, row.reply])
    os.replace(tmp, path)


# --- running ----------------------------------------------------------------------


def _apply(db: sqlite3.Connection, plan: SendPlan) -> tuple[journal.Run, int]:
    """Write the plan into the journal; returns the run and how many crash leftovers it resends."""
    run = journal.open_run(db, plan.slug, subject=plan.build.rendered.subject, digest=plan.digest,
                           subscribers=str(plan.subscribers.path))
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
                reason = _exclusion(plan, key)
                if reason:
                    skip.append((key, reason))
                else:
                    wanted.append((key, s.email, s.name, s.themes))
        for s in unsubscribed:
            listed.add(s.key)
            if s.key in states:
                skip.append((s.key, "unsubscribed in the list"))
        skip += [(key, "no longer in the list") for key in states if key not in listed]

    def new() -> Iterator[journal.NewRecipient]:  # streamed: no second copy of a long list
        for s in subscribers:
            key = s.key
            if key not in states:
                reason = _exclusion(plan, key)
                yield journal.NewRecipient(key, s.email, s.name, s.themes, "skipped" if reason else "pending",
                                           reason or "", new_message_id(plan.config, run.id))
        for s in unsubscribed:
            if s.key not in states:
                yield journal.NewRecipient(s.key, s.email, s.name, s.themes, "skipped",
                                           "unsubscribed in the list", new_message_id(plan.config, run.id))

    journal.apply_plan(db, run.id, new=new(), wanted=wanted, skip=skip)
    return run, in_flight


@contextlib.contextmanager
def _send_lock(config: Config) -> Iterator[None]:
    """One sending process per newsletter folder: a second one would steal the first's claims."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = config.root / ".newsletter-send.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise SendError("another `newsletter send` is running for this newsletter", path=config.root,
                            hint="wait for it to finish (or stop it with Ctrl-C), then run this again") from exc
        yield


async def _with_transport(transport: Transport | None, config: Config,
                          body: Callable[[Transport, Path | None], Awaitable[PoolReport]], *,
                          concurrency: int | None = None) -> PoolReport:
    """Run `body` against the configured relay, or against the embedded outbox for its duration."""
    if transport is not None:
        return await body(transport, None)
    async with embedded_outbox(config.outbox_dir) as outbox:
        local = Transport(host=outbox.host, port=outbox.port, security="none", concurrency=concurrency or 4,
                          retry_delay=0.5)
        return await body(local, outbox.folder)


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
               handle_signals: bool) -> None:
    stop = asyncio.Event()
    remove = _install_signals(stop, on_event) if handle_signals else (lambda: None)
    composer = _Composer(plan.config, TemplateCache(plan.build.rendered, plan.config, variants=plan.variants),
                         plan.keys, load_signer_for(plan.config))
    db = journal.connect(plan.config.state_file)
    try:
        run, in_flight = _apply(db, plan)
        report.possible_duplicates += in_flight
        feed = _Feed(db, run.id, plan, composer, stop, report, on_result)

        async def body(transport: Transport, outbox: Path | None) -> PoolReport:
            report.outbox = outbox
            try:
                return await deliver(feed, transport, stop=stop, on_event=on_event)
            finally:
                feed.close()

        started = time.monotonic()
        try:
            pool = await _with_transport(plan.transport, plan.config, body, concurrency=plan.concurrency)
            report.stopped, report.fatal = pool.stopped, pool.fatal
            report.interrupted = stop.is_set() and not pool.stopped
        except asyncio.CancelledError:
            report.interrupted = report.aborted = True
        report.elapsed = time.monotonic() - started
        _finish(db, run, plan, report)
    finally:
        remove()
        db.close()


def _finish(db: sqlite3.Connection, run: journal.Run, plan: SendPlan, report: SendReport) -> None:
    totals = journal.run_counts(db, run.id)
    report.totals = totals
    report.remaining = totals["pending"] + totals["sending"]
    report.deferred = totals["deferred"]
    report.skipped = totals["skipped"]
    report.quiet = sum(1 for r in journal.run_recipients(db, run.id, ("skipped",)) if r.reply == QUIET_REASON)
    problems = journal.run_recipients(db, run.id, ("failed", "deferred"))
    report.failures = [Failure(r.address, r.name, r.state, r.reply) for r in problems]
    if problems:
        report.failures_csv = plan.config.issues_dir / plan.slug / "failures.csv"
        write_failures_csv(report.failures_csv, problems)
    if report.complete:
        journal.finish_run(db, run.id)


def send_issue(plan: SendPlan, *, on_result: OnResult | None = None, on_event: OnEvent | None = None,
               handle_signals: bool = True) -> SendReport:
    """Send (or resume) the run the plan describes; returns when done, stopped or interrupted.

    `on_result(state)` is called once per recipient handled (for a progress bar);
    `on_event(message)` for things worth telling the user (throttling, reconnects).
    """
    report = SendReport(plan.slug, plan.transport_label, already_sent=plan.already_sent)
    with _send_lock(plan.config):
        asyncio.run(_run(plan, report, on_result or (lambda state: None), on_event or (lambda message: None),
                         handle_signals))
    return report


def dry_run(plan: SendPlan) -> DryRunReport:
    """Compose (and sign) every message the run would send, check it, send nothing, write nothing."""
    composer = _Composer(plan.config, TemplateCache(plan.build.rendered, plan.config, variants=plan.variants),
                         plan.keys, load_signer_for(plan.config))
    report = DryRunReport()
    started = time.perf_counter()
    date = formatdate(usegmt=True)
    for s in plan.subscribers.subscribers:
        state = plan.states.get(s.key)
        if state == "sent" or (state == "failed" and not plan.retry_failed):
            continue
        if _exclusion(plan, s.key):
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


# --- test sends -------------------------------------------------------------------


class _ListSource:
    """A job source over a fixed list (test sends): no journal, retries in memory."""

    def __init__(self, jobs: list[Job], report: SendReport) -> None:
        self.jobs = deque(jobs)
        self.report = report
        self.outstanding = 0
        self.changed = asyncio.Event()

    async def next_job(self) -> Job | None:
        while not self.jobs and self.outstanding:
            self.changed.clear()
            await self.changed.wait()
        if not self.jobs:
            return None
        self.outstanding += 1
        return self.jobs.popleft()

    def done(self, result: Result) -> None:
        self.outstanding -= 1
        if result.status == "sent":
            self.report.sent += 1
        elif result.status == "deferred" and result.retry_in is not None:
            asyncio.get_running_loop().call_later(result.retry_in, self._again, result.job)
            self.outstanding += 1
        elif result.status == "failed":
            self.report.failed += 1
            self.report.failures.append(Failure(result.job.recipient, "", "failed", result.summary))
        else:  # deferred for good, or never tried because the pool stopped
            self.report.deferred += 1
            self.report.failures.append(Failure(result.job.recipient, "", "deferred", result.summary))
        self.changed.set()

    def _again(self, job: Job) -> None:
        job.attempts += 1
        self.outstanding -= 1
        self.jobs.append(job)
        self.changed.set()


async def send_test_async(config: Config, date_range: DateRange, addresses: list[str], *,
                          smtp_host: str | None = None, smtp_port: int | None = None,
                          build: BuildResult | None = None) -> SendReport:
    """`send_test` for callers already inside an event loop."""
    if not addresses:
        raise SendError("no test addresses given", hint="e.g. --test you@example.org")
    valid = []
    for address in addresses:
        try:
            valid.append(check_address(address))
        except ValueError as exc:
            raise SendError(f"not a valid test address {address!r}: {exc}", field="--test") from exc
    transport = resolve_transport(config, host=smtp_host, port=smtp_port)
    keys = _secrets(config, transport)
    build = build or build_issue(config, date_range)
    composer = _Composer(config, TemplateCache(build.rendered, config, subject_prefix=TEST_PREFIX), keys,
                         load_signer_for(config))
    date = formatdate(usegmt=True)
    jobs = []
    for address in {a.lower(): a for a in reversed(valid)}.values():  # once per address, first spelling
        subscriber = Subscriber(address)
        message_id = f"<test.{secrets.token_hex(10)}@{config.sender_domain}>"
        data, stuffed = composer.wire(subscriber, message_id, date)
        jobs.append(Job(address.lower(), envelope_sender(config, subscriber), address, data, stuffed=stuffed))
    label = (f"the local outbox {config.outbox_dir} (no mail leaves this machine)" if transport is None
             else f"{transport.label} ({transport.security})")
    report = SendReport(build.rendered.issue.range.slug, label, test=True)
    source = _ListSource(jobs, report)

    async def body(t: Transport, outbox: Path | None) -> PoolReport:
        report.outbox = outbox
        return await deliver(source, dataclasses.replace(t, concurrency=min(t.concurrency, len(jobs))))

    pool = await _with_transport(transport, config, body)
    report.stopped, report.fatal = pool.stopped, pool.fatal
    return report


def send_test(config: Config, date_range: DateRange, addresses: list[str], *,
              smtp_host: str | None = None, smtp_port: int | None = None) -> SendReport:
    """Send the current build to `addresses` with the subject prefixed "[TEST] ".

    Goes through the configured transport (the embedded outbox by default), builds the
    issue exactly as `send` does, and leaves the run's journal records alone. Raises
    `SendError` for an invalid address or a transport that cannot be used. Synchronous:
    from async code await `send_test_async` or call this in a thread.
    """
    return asyncio.run(send_test_async(config, date_range, addresses, smtp_host=smtp_host, smtp_port=smtp_port))
