"""The sign-up page's one background sender: confirmation and welcome mails, off the request path.

The page answers every sign-up the same way and only `submit`s the request's id here;
everything that depends on who the address is (suppressed? already subscribed? mailed
this hour? over the hourly cap?), and all mail work (DKIM key, TLS context, our host
name, SMTP), happens in this sender's own thread with its own event loop, so none of it
can delay or shape the web server's answers.

| what happens                        | what the sender does                                   |
|-------------------------------------|--------------------------------------------------------|
| a request is submitted              | queued (bounded: a full queue drops it, logged), then  |
|                                     | held for a random MAIL_DELAY (1-5 s) before any work   |
| mails are waiting                   | one pool of at most CONNECTIONS connections sends them, |
|                                     | then closes after LINGER idle seconds                  |
| `claim_mail` says no                | nothing sent, logged by reason (never the address)     |
| hourly cap reached                  | nothing sent, a warning in the log                     |
| 4xx, lost connection, relay down,   | tried again after retry_delay, doubling, `retries`     |
| missing DKIM key                    | times; then given up and the mailbox's hourly          |
|                                     | allowance released, so the visitor can ask again       |
| 5xx                                 | given up at once, allowance released                   |

Relay replies are logged with every address in them blanked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import heapq
import itertools
import logging
import queue
import random
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from newsletter import journal
from newsletter.audience import claim_mail, forget_expired
from newsletter.config import DEFAULT_CONSENT, Config, SubscribeConfig
from newsletter.deliver import Job, PoolReport, Result, Transport, deliver, with_transport
from newsletter.errors import NewsletterError
from newsletter.journal import DeliveryStatus
from newsletter.send.confirmation import Confirmation, Welcome, compose_confirmation, compose_welcome
from newsletter.send.transport import resolve_transport
from newsletter.tokens import make_link_token, make_token

__all__ = ["CONNECTIONS", "MAIL_DELAY", "SignupMail", "SignupMailer", "confirm_link_base", "scrub", "signup_settings"]

CONNECTIONS = 2  # at most this many SMTP connections for sign-up mails, whatever the smtp block says
LINGER = 1.0  # seconds a pool waits for more mail before it closes its connections
QUEUE_SIZE = 1000
# Seconds (at random between the two) a mail waits before the sender touches it, so the
# CPU its composing and delivery take is not right behind the request that caused it.
MAIL_DELAY = (1.0, 5.0)
IDLE_EXIT = 30.0  # seconds without mail after which the sender thread ends (a submit restarts it)
CLEANUP_EVERY = 600.0  # seconds between deletions of expired, never-confirmed requests
log = logging.getLogger("newsletter.unsubscribe")
_ADDRESS = re.compile(r"<?[^\s<>@'\"]+@[^\s<>@'\"]+>?")


def scrub(text: str) -> str:
    """A relay reply fit for the log: every address in it blanked."""
    return _ADDRESS.sub("<address>", text)


def signup_settings(config: Config) -> SubscribeConfig:
    """The `subscribe:` block; without one, its defaults at `unsubscribe.url`, so that
    "Resubscribe" on the unsubscribe page can still mail its confirmation link."""
    if config.subscribe is not None:
        return config.subscribe
    return SubscribeConfig(url=config.unsubscribe_url, consent=DEFAULT_CONSENT.replace("{name}", config.name))


def confirm_link_base(config: Config) -> str:
    """Where confirmation links point: the sign-up page's address + `/confirm`, from the
    config, never from a request."""
    return f"{signup_settings(config).url.rstrip('/')}/confirm"


@dataclasses.dataclass(frozen=True)
class SignupMail:
    """One mail to send: `kind` is "confirm" or "welcome", for a `signup_requests` row."""

    kind: str
    request: int


@dataclasses.dataclass
class _Attempt:
    mail: SignupMail
    job: Job | None = None  # composed once; a retry sends the same message
    claimed: journal.PendingRequest | None = None  # claimed once; a retry does not claim again
    tries: int = 0


class SignupMailer:
    """The queue and its one sender thread (started at the first `submit`)."""

    def __init__(self, config: Config, state: journal.StateLocation, keys: Callable[[], list[bytes]], *,
                 retry_delay: float = 30.0, retries: int = 5, linger: float = LINGER) -> None:
        self.config = config
        self.state = state  # the SQLite file or the PostgreSQL database `serve` uses
        self.keys = keys
        self.retry_delay = retry_delay
        self.retries = retries
        self.linger = linger
        self._queue: queue.Queue[_Attempt] = queue.Queue()  # submitted, not yet scheduled
        self._later: list[tuple[float, int, _Attempt]] = []  # (due, seq, attempt): retries
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._open = 0  # mails submitted and not yet finished (sent, held or given up)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._cleaned = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._capped_logged = 0.0
        # one config per language, kept: the branded HTML is rendered once per config object
        self._speaking: dict[str, Config] = {config.language: config}

    def speaking(self, language: str | None) -> Config:
        """The config as a reader of `language` gets it (the one chosen on the sign-up form);
        the config's own for None, or for a language the config no longer offers."""
        if not language or language not in self.config.languages:
            return self.config
        if language not in self._speaking:
            self._speaking[language] = self.config.in_language(language)
        return self._speaking[language]

    # --- the web server's side: never blocks -------------------------------------------------

    def submit(self, mail: SignupMail) -> bool:
        """Queue a mail; False (and logged) when the queue is full."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._main, name="signup-mail", daemon=True)
                self._thread.start()
            if self._open >= QUEUE_SIZE:
                log.warning("sign-up mail queue full (%d waiting): one %s mail dropped", QUEUE_SIZE, mail.kind)
                return False
            self._queue.put_nowait(_Attempt(mail))
            self._open += 1
            loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop just closed: the next one finds the mail
                loop.call_soon_threadsafe(wake.set)
        return True

    def resume(self) -> int:
        """Queue again the confirmation mails a stopped server left unsent (requests of the
        last hour); how many."""
        since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
        ids: list[int] = []
        self._with_db(lambda db: ids.extend(journal.unfinished_requests(db, requested_since=since)))
        for request_id in ids:
            self.submit(SignupMail("confirm", request_id))
        return len(ids)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted mail is finished (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._open:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued (within `timeout`), then stop the thread."""
        self.wait_idle(timeout)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the sender thread ---------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except RuntimeError as exc:  # the interpreter is exiting under this daemon thread
            if "shutdown" not in str(exc) and not sys.is_finalizing():
                raise

    def _finished(self) -> None:
        with self._lock:
            self._open -= 1
            self._lock.notify_all()

    async def _run(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        idle_since = time.monotonic()
        while not self._stopping.is_set():
            first = await self._take(0.2)
            if first is None:
                if time.monotonic() - idle_since > IDLE_EXIT and self._exit_if_idle():
                    return
                continue
            idle_since = time.monotonic()
            report = await self._batch(first)
            if report is not None and report.stopped:
                log.warning("sign-up mail: the relay stopped the batch: %s", scrub(report.stopped))
                await asyncio.sleep(min(self.retry_delay, 60.0))
            self._cleanup()

    def _exit_if_idle(self) -> bool:
        """Let the thread end when nothing is waiting; the next `submit` starts another."""
        with self._lock:
            if self._open or self._later or not self._queue.empty():
                return False
            self._thread = self._loop = self._wake = None
            return True

    async def _take(self, wait: float) -> _Attempt | None:
        """The next attempt that is due (a queued mail once its delay is over, or a retry),
        waiting at most `wait` seconds for one."""
        if self._wake is None:
            self._wake = asyncio.Event()
        deadline = time.monotonic() + wait
        while True:
            self._wake.clear()
            self._schedule_queued()
            now = time.monotonic()
            if self._later and self._later[0][0] <= now:
                return heapq.heappop(self._later)[2]
            until = min(deadline, self._later[0][0]) if self._later else deadline
            if until <= now:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), until - now)

    def _schedule_queued(self) -> None:
        """Move submitted mails to the schedule, each after a random delay (MAIL_DELAY):
        the work a new address causes never follows its request closely enough to be timed."""
        while True:
            try:
                attempt = self._queue.get_nowait()
            except queue.Empty:
                return
            low, high = MAIL_DELAY
            due = time.monotonic() + (random.uniform(low, high) if high > 0 else 0.0)
            heapq.heappush(self._later, (due, next(self._seq), attempt))

    async def _batch(self, first: _Attempt) -> PoolReport | None:
        try:
            transport = await asyncio.to_thread(resolve_transport, self.config)
        except NewsletterError as exc:
            log.warning("sign-up mail cannot go: %s", scrub(str(exc)))
            self._again(first, "no relay")
            return None
        source = _Batch(self, first)

        async def body(t: Transport, outbox: Path | None) -> PoolReport:
            return await deliver(source, dataclasses.replace(t, concurrency=min(t.concurrency, CONNECTIONS)))

        return await with_transport(transport, self.config.outbox_dir, body, concurrency=CONNECTIONS)

    def _prepare(self, attempt: _Attempt) -> Job | None:
        """Decide and compose (in a worker thread: it reads the database and the DKIM key);
        None when nothing is to be sent (then the attempt is finished or rescheduled)."""
        if attempt.job is not None:
            return attempt.job
        mail = attempt.mail
        settings = signup_settings(self.config)
        db = journal.connect(self.state)
        try:
            if mail.kind == "confirm":
                if attempt.claimed is None:
                    claim = claim_mail(db, mail.request, hourly_cap=settings.hourly_limit)
                    if claim.status != "claimed" or claim.request is None:
                        self._held(claim.status, settings.hourly_limit)
                        self._finished()
                        return None
                    attempt.claimed = claim.request
                request = attempt.claimed
                expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=settings.expires_days)
                token = make_link_token(self.keys()[0], self.config.list_id, request.email, request.nonce,
                                        int(expires.timestamp()))
                link = f"{confirm_link_base(self.config)}?t={quote(token, safe='')}"
                message = compose_confirmation(self.speaking(request.language),
                                               Confirmation(request.email, link, expires))
            else:
                found = journal.get_request(db, mail.request)
                if found is None:
                    self._finished()
                    return None
                request = found
                token = make_token(self.keys()[0], self.config.list_id, request.email)
                message = compose_welcome(self.speaking(request.language), Welcome(request.email, request.name, token))
        except NewsletterError as exc:  # a DKIM key gone missing, a template error: try again later
            log.warning("%s mail not composed: %s", mail.kind, scrub(str(exc)))
            self._again(attempt, "not composed")
            return None
        finally:
            db.close()
        attempt.job = Job(f"{mail.kind}:{mail.request}", self.config.sender_address, request.email, message)
        return attempt.job

    def _held(self, status: str, cap: int) -> None:
        if status == "capped":
            if time.monotonic() - self._capped_logged > 60 or not self._capped_logged:
                self._capped_logged = time.monotonic()
                log.warning("hourly cap of %d confirmation mails reached (subscribe.hourly_limit): "
                            "sign-ups this hour get no mail", cap)
        else:
            log.info("confirmation mail not sent: %s", status)

    def _done(self, attempt: _Attempt, result: Result) -> None:
        """A delivery's outcome: sent, tried again later, or given up."""
        if result.status is DeliveryStatus.SENT:
            if attempt.mail.kind == "confirm":
                self._with_db(lambda db: journal.set_request_mail(db, attempt.mail.request, "sent"))
            log.info("%s mail sent", "confirmation" if attempt.mail.kind == "confirm" else "welcome")
            self._finished()
            return
        permanent = result.status is DeliveryStatus.FAILED
        log.warning("%s mail not sent: %s", attempt.mail.kind, scrub(result.summary) or result.status)
        if permanent:
            self._give_up(attempt)
        else:
            self._again(attempt, result.status)

    def _again(self, attempt: _Attempt, why: str) -> None:
        attempt.tries += 1
        if attempt.tries >= self.retries:
            self._give_up(attempt)
            return
        delay = self.retry_delay * 2 ** (attempt.tries - 1)
        log.info("%s mail %s: trying again in %.0f s", attempt.mail.kind, why, delay)
        heapq.heappush(self._later, (time.monotonic() + delay, next(self._seq), attempt))

    def _give_up(self, attempt: _Attempt) -> None:
        log.warning("%s mail given up after %d tries", attempt.mail.kind, max(attempt.tries, 1))
        if attempt.mail.kind == "confirm":
            self._with_db(lambda db: journal.release_request_mail(db, attempt.mail.request))
        self._finished()

    def _with_db(self, step: Callable[[journal.Db], object]) -> None:
        db = journal.connect(self.state)
        try:
            step(db)
        finally:
            db.close()

    def _cleanup(self) -> None:
        """Forget expired requests nobody confirmed, now and then (never on the request path)."""
        if time.monotonic() - self._cleaned < CLEANUP_EVERY and self._cleaned:
            return
        self._cleaned = time.monotonic()
        days = signup_settings(self.config).expires_days
        try:
            self._with_db(lambda db: forget_expired(db, days))
        except (sqlite3.Error, NewsletterError) as exc:  # a locked or moved state file: next time
            log.warning("expired sign-up requests not cleaned up: %s", exc)


class _Batch:
    """The pool's job source for one batch: queued mails until none came for `linger` seconds."""

    def __init__(self, mailer: SignupMailer, first: _Attempt) -> None:
        self.mailer = mailer
        self.first: _Attempt | None = first
        self.attempts: dict[str, _Attempt] = {}

    async def next_job(self) -> Job | None:
        while True:
            attempt, self.first = self.first, None
            if attempt is None:
                attempt = await self.mailer._take(self.mailer.linger)
            if attempt is None:
                return None
            job = await asyncio.to_thread(self.mailer._prepare, attempt)
            if job is not None:
                self.attempts[job.key] = attempt
                return job

    def done(self, result: Result) -> None:
        attempt = self.attempts.pop(result.job.key)
        self.mailer._done(attempt, result)
