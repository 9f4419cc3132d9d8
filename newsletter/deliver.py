"""SMTP delivery: a pool of persistent aiosmtplib connections under one global rate limit.

`deliver(source, transport)` runs `transport.concurrency` workers. Each keeps one
connection open for many messages (a fresh one after `reconnect_after`), takes a `Job`
from the source, waits for the rate limiter, runs one SMTP transaction and hands the
`Result` back. It knows SMTP and nothing of the journal: the source (send.py) records.

What a reply means here:
- 250 after the message: `sent`. Nothing else is ever reported as sent.
- 4xx (421, 450, 451, 452, 454 ...): `deferred`, with `retry_in` seconds (exponential
  backoff) until `retries` attempts are used up; the global rate is halved (at most once a
  second) and creeps back up with each success. 421 also means the server is closing:
  the worker reconnects.
- 5xx to RCPT, or an enhanced 5.1.x code anywhere: `failed`, `hard_bounce` for 550, 551,
  553 and 5.1.x. Other 5xx after the message (content refused): `failed`, no bounce.
- 5xx to MAIL FROM, AUTH refused, TLS not offered or not trusted: the configuration is
  wrong for every recipient alike, so the run stops (`fatal`) instead of failing everyone.
- A connection lost or timed out before the message went: the job is retried on a new
  connection; lost during the message: `deferred` and `uncertain` (the server may have
  taken it). Connections back off 2^n; a worker that fails `max_connection_failures`
  times in a row retires, and when the last one does the run stops, resumable.

Each transaction is written with aiosmtplib's `execute_command` and its protocol rather
than `sendmail`: our addresses are validated and our messages are CRLF-canonical by
construction (compose.py), so `sendmail`'s address parsing and its two regex passes over
every body are not needed; dot-stuffing is a `bytes.replace` when a line starts with a
dot. On a 60 KB message this more than triples throughput (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from .config import SmtpConfig
from .errors import ConfigError, SendError

__all__ = [
    "HARD_BOUNCE_CODES",
    "THROTTLE_CODES",
    "Job",
    "JobSource",
    "PoolReport",
    "RateLimiter",
    "Result",
    "Transport",
    "check_transport",
    "deliver",
    "is_loopback",
    "transport_from_config",
]

HARD_BOUNCE_CODES = frozenset({550, 551, 553})
THROTTLE_CODES = frozenset({421, 450, 451, 452, 454})
MAX_BACKOFF = 60.0
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Transport:
    """Where and how to connect: one SMTP server, its security and the pool's limits."""

    host: str
    port: int
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    concurrency: int = 4
    rate: float | None = None  # messages per second across the pool; None = as fast as it goes
    reconnect_after: int = 500
    timeout: float = 30.0
    max_connection_failures: int = 5
    retries: int = 5
    retry_delay: float = 2.0
    ca_file: Path | None = None
    allow_insecure: bool = False

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def check_transport(transport: Transport) -> None:
    """Refuse settings that would expose mail or a password on the network, before connecting."""
    if transport.loopback:
        return
    if transport.security == "none" and transport.username:
        raise SendError(f"refusing to log in to {transport.host} over an unencrypted connection",
                        field="smtp.security",
                        hint="use security: starttls (port 587) or tls (port 465); AUTH without TLS "
                             "is only allowed to a loopback host")
    if transport.security == "none" and not transport.allow_insecure:
        raise SendError(f"refusing to send over plain SMTP to {transport.host}", field="smtp.security",
                        hint="use security: starttls or tls, or set allow_insecure: true if the network "
                             "between you and this relay is trusted")


def _password(smtp: SmtpConfig) -> str | None:
    if smtp.password_env and os.environ.get(smtp.password_env):
        return os.environ[smtp.password_env]
    if smtp.password_file is not None:
        try:
            return smtp.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the SMTP password: {exc.strerror}", path=smtp.password_file,
                              field="smtp.password_file") from exc
    return None


def transport_from_config(smtp: SmtpConfig, *, host: str | None = None, port: int | None = None,
                          concurrency: int | None = None) -> Transport:
    """The `smtp:` block with the command line's overrides, its password read and its security checked."""
    password = _password(smtp) if smtp.username else None
    if smtp.username and password is None:
        raise ConfigError(f"no SMTP password for {smtp.username}", field="smtp.password_env",
                          hint=f"export {smtp.password_env}=... or set smtp.password_file")
    transport = Transport(
        host=host or smtp.host,
        port=port or smtp.port,
        security=smtp.security,
        username=smtp.username,
        password=password,
        concurrency=concurrency or smtp.concurrency,
        rate=smtp.rate,
        reconnect_after=smtp.reconnect_after,
        timeout=smtp.timeout,
        max_connection_failures=smtp.max_connection_failures,
        retries=smtp.retries,
        retry_delay=smtp.retry_delay,
        ca_file=smtp.ca_file,
        allow_insecure=smtp.allow_insecure,
    )
    check_transport(transport)
    return transport


@dataclass
class Job:
    """One message for one recipient. `key` is the caller's handle (the journal's address key)."""

    key: str
    sender: str  # MAIL FROM
    recipient: str  # RCPT TO
    message: bytes  # CRLF line ends only (compose.fill builds it so): the pool does not normalise
    attempts: int = 1  # including the one about to be made
    stuffed: bool = False  # lines starting with "." already doubled for SMTP (send.py does it ahead)


@dataclass(frozen=True)
class Result:
    """What happened to a job; `status` is sent, deferred, failed or unsent (never tried)."""

    job: Job
    status: str
    code: int = 0
    reply: str = ""
    retry_in: float | None = None  # deferred: try again after this many seconds; None = not in this run
    hard_bounce: bool = False
    uncertain: bool = False  # the connection broke after the message went: may have been delivered

    @property
    def summary(self) -> str:
        return f"{self.code} {self.reply}".strip() if self.code else self.reply


class JobSource(Protocol):
    """What the pool pulls jobs from and reports results to (send.py's journal feed)."""

    async def next_job(self) -> Job | None:
        """The next job, waiting if retries are due later; None when there is nothing more."""

    def done(self, result: Result) -> None:
        """Record a result; called once for every job handed out."""


@dataclass
class PoolReport:
    stopped: str | None = None  # why the run stopped early, if it did
    fatal: bool = False  # a configuration problem (stop and fix), not a passing outage
    connections: int = 0
    throttled: int = 0
    retired: int = 0


class RateLimiter:
    """A global pace in messages per second, halved on throttling replies and regained slowly.

    Each `wait` reserves the next free slot, so concurrent workers share one pace.
    Without a configured rate the pool runs unpaced until the first throttling reply,
    then at half the rate it was achieving, recovering 1% (+0.05) per success until it is
    back to four times that (then unpaced again).
    """

    def __init__(self, rate: float | None, *, floor: float = 0.2, guess: float = 8.0) -> None:
        self.ceiling = rate
        self.guess = guess  # msgs/s assumed when throttled before anything was delivered
        self.rate = rate
        self.floor = floor
        self.throttles = 0
        self._next = 0.0
        self._unpace_at: float | None = None
        self._last_throttle = -1e9
        self._recent: deque[float] = deque(maxlen=8192)

    async def wait(self, stop: asyncio.Event) -> bool:
        """Sleep until this caller's slot; False if `stop` was set meanwhile."""
        if self.rate is None:
            return not stop.is_set()
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            try:
                await asyncio.wait_for(stop.wait(), slot - now)
                return False
            except TimeoutError:
                pass
        return not stop.is_set()

    def succeeded(self) -> None:
        self._recent.append(time.monotonic())
        if self.rate is None:
            return
        self.rate = self.rate * 1.01 + 0.05
        if self.ceiling is not None and self.rate >= self.ceiling:
            self.rate = self.ceiling
        elif self.ceiling is None and self._unpace_at is not None and self.rate >= self._unpace_at:
            self.rate = None

    def throttled(self) -> bool:
        """Lower the pace; False when it was already lowered in the last second (one burst)."""
        now = time.monotonic()
        if now - self._last_throttle < 1.0:
            return False
        self._last_throttle = now
        self.throttles += 1
        if self.rate is None:
            recent = [t for t in self._recent if now - t <= 2.0]
            span = min(2.0, max(0.25, now - recent[0])) if recent else 2.0
            base = max(1.0, len(recent) / span) if recent else self.guess  # what the pool achieved just now
            self._unpace_at = base * 4
        else:
            base = self.rate
        self.rate = max(self.floor, base / 2)
        self._next = max(self._next, now + 1.0 / self.rate)
        return True


class _ConnectionFailed(Exception):
    """The connection could not be made or was lost; try again later."""


class _Fatal(Exception):
    """A problem every recipient would hit alike (login refused, sender refused, no TLS)."""


def _is_hard_bounce(code: int, message: str, *, at_rcpt: bool) -> bool:
    enhanced = _ENHANCED.match(message)
    if enhanced and enhanced.group(1) == "5":
        return enhanced.group(2) == "1"
    return at_rcpt and code in HARD_BOUNCE_CODES


def _one_line(message: str) -> str:
    return " ".join(message.split())[:500]


class _Pool:
    def __init__(self, source: JobSource, transport: Transport, stop: asyncio.Event,
                 on_event: Callable[[str], None] | None) -> None:
        self.source = source
        self.t = transport
        self.stop = stop
        self.on_event = on_event or (lambda message: None)
        self.limiter = RateLimiter(transport.rate, guess=2.0 * transport.concurrency)
        self.report = PoolReport()
        self.active = transport.concurrency
        self.local_hostname = "localhost" if transport.loopback else socket.getfqdn()
        self.tls_context = self._tls_context()
        self._last_error = ""

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.t.ca_file) if self.t.ca_file else None)
        if self.t.loopback:  # never leaves the machine: a local relay's snakeoil certificate is fine
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def halt(self, reason: str, *, fatal: bool = False) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason
            self.report.fatal = fatal
        self.stop.set()

    async def connect(self) -> aiosmtplib.SMTP:
        t = self.t
        if t.security == "starttls":
            start_tls: bool | None = None if t.loopback else True
        else:
            start_tls = False
        smtp = aiosmtplib.SMTP(hostname=t.host, port=t.port, timeout=t.timeout, use_tls=t.security == "tls",
                               start_tls=start_tls, tls_context=self.tls_context,
                               local_hostname=self.local_hostname)
        try:
            await smtp.connect()
            await _greet(smtp)
            if t.username:
                if not t.loopback and smtp.get_transport_info("sslcontext") is None:
                    raise _Fatal(f"{t.host} did not switch to TLS; refusing to send the password in clear")
                await smtp.login(t.username, t.password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise _Fatal(f"{t.host} refused the login for {t.username}: {exc.code} {_one_line(exc.message)}") from exc
        except ssl.SSLCertVerificationError as exc:
            smtp.close()
            raise _Fatal(f"cannot verify {t.host}'s TLS certificate: {exc.verify_message}") from exc
        except aiosmtplib.SMTPConnectResponseError as exc:
            smtp.close()
            raise _ConnectionFailed(f"{exc.code} {_one_line(exc.message)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            if exc.code == 421 or 400 <= exc.code < 500:
                raise _ConnectionFailed(f"{exc.code} {_one_line(exc.message)}") from exc
            raise _Fatal(f"{t.host} refused the session: {exc.code} {_one_line(exc.message)}") from exc
        except (aiosmtplib.SMTPNotSupported, aiosmtplib.SMTPException) as exc:
            smtp.close()
            if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError,
                                aiosmtplib.SMTPServerDisconnected)):
                raise _ConnectionFailed(_one_line(str(exc))) from exc
            raise _Fatal(f"{t.host}: {_one_line(str(exc))}") from exc
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            smtp.close()
            raise _ConnectionFailed(_one_line(str(exc)) or type(exc).__name__) from exc
        self.report.connections += 1
        return smtp

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
                    await _quit(smtp)
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
                    result = await self.transact(smtp, job)
                    sending = False
                except _ConnectionFailed as exc:
                    sending = False
                    smtp.close()
                    failures += 1
                    job.attempts += 1
                    if job.attempts > self.t.retries:
                        self.source.done(Result(job, "deferred", reply=f"connection lost: {exc}"))
                        job = None
                    if failures >= self.t.max_connection_failures:
                        self._give_up(str(exc))
                        return
                    if failures > 1 or used == 0:  # a long-idle connection may just have timed out
                        await self._backoff(failures)
                    continue
                except _Fatal as exc:
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
                self.source.done(Result(job, "unsent", reply="not sent: the run stopped first"))
            self.active -= 1
            if cancelled and smtp is not None:
                smtp.close()
            else:
                await _quit(smtp)

    async def _connect_or_none(self, failures: int) -> aiosmtplib.SMTP | None:
        try:
            return await self.connect()
        except _Fatal as exc:
            self.halt(str(exc), fatal=True)
        except _ConnectionFailed as exc:
            self._last_error = str(exc)
            if failures == 0:
                self.on_event(f"cannot connect to {self.t.label} ({exc}); retrying")
        return None

    def _count(self, result: Result, failures: int) -> int:
        """Feed the rate limiter; a delivered message proves the connection works."""
        if result.status == "sent":
            self.limiter.succeeded()
            return 0
        if result.uncertain:
            return failures + 1  # the connection broke: counts toward max_connection_failures
        if result.code in THROTTLE_CODES:
            self.report.throttled += 1
            if self.limiter.throttled():
                self.on_event(f"the server asked to slow down ({result.summary}); pace now "
                              f"{self.limiter.rate:.1f} msgs/s")
        return failures

    def _give_up(self, reason: str) -> None:
        """Too many failures in a row on this slot: retire it, or stop the run if it is the last."""
        if self.active > 1 and not self.stop.is_set():
            self.report.retired += 1
            self.on_event(f"a connection to {self.t.label} failed {self.t.max_connection_failures} times "
                          f"in a row ({reason}); going on with {self.active - 1}")
            return
        self.halt(f"{self.t.max_connection_failures} connection failures in a row to {self.t.label}: {reason}")

    async def _backoff(self, failures: int) -> None:
        delay = min(MAX_BACKOFF, self.t.retry_delay * 2 ** (failures - 1)) * random.uniform(0.8, 1.2)
        try:
            await asyncio.wait_for(self.stop.wait(), delay)
        except TimeoutError:
            pass

    def _retry_in(self, job: Job) -> float | None:
        if job.attempts >= self.t.retries:
            return None
        return min(MAX_BACKOFF, self.t.retry_delay * 2 ** (job.attempts - 1))

    def _refused(self, job: Job, code: int, message: str, *, at_rcpt: bool) -> Result:
        message = _one_line(message)
        if 400 <= code < 500:
            return Result(job, "deferred", code, message, retry_in=self._retry_in(job))
        return Result(job, "failed", code, message, hard_bounce=_is_hard_bounce(code, message, at_rcpt=at_rcpt))

    async def transact(self, smtp: aiosmtplib.SMTP, job: Job) -> Result:
        """MAIL, RCPT, DATA for one job, written straight to aiosmtplib's protocol.

        `sendmail()` would parse both addresses with `email.utils` and make two regex passes
        over the body; the job's addresses are validated plain addr-specs and its message is
        CRLF-canonical (the `Job` contract), so only dot-stuffing is left, when needed.
        """
        t = self.t
        message = job.message
        if not job.stuffed and b"\r\n." in message:
            message = message.replace(b"\r\n.", b"\r\n..")
        if not job.stuffed and message.startswith(b"."):
            message = b"." + message
        size = [f"SIZE={len(message)}".encode("ascii")] if smtp.supports_extension("size") else []
        try:
            sender, recipient = _addr(job.sender), _addr(job.recipient)
        except ValueError as exc:
            return Result(job, "failed", reply=str(exc))
        try:
            reply = await smtp.execute_command(b"MAIL", b"FROM:<" + sender + b">", *size)
            if reply.code != 250:
                await _reset(smtp)
                if 400 <= reply.code < 500:
                    return self._refused(job, reply.code, reply.message, at_rcpt=False)
                raise _Fatal(f"{t.host} refused the sender {job.sender}: {reply.code} {_one_line(reply.message)}")
            reply = await smtp.execute_command(b"RCPT", b"TO:<" + recipient + b">")
            if reply.code not in (250, 251):
                await _reset(smtp)
                return self._refused(job, reply.code, reply.message, at_rcpt=True)
            reply = await smtp.execute_command(b"DATA")
            if reply.code != 354:
                await _reset(smtp)
                return self._refused(job, reply.code, reply.message, at_rcpt=False)
            protocol = smtp.protocol
            if protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("Connection lost")
            try:
                protocol.write(message + b".\r\n")
                reply = await protocol.read_response(timeout=t.timeout)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
                smtp.close()
                return Result(job, "deferred", reply=f"connection lost during the message: {_one_line(str(exc))}",
                              retry_in=self._retry_in(job), uncertain=True)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise _ConnectionFailed(_one_line(str(exc)) or type(exc).__name__) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await _reset(smtp)
            return self._refused(job, exc.code, exc.message, at_rcpt=False)
        if reply.code == 250:
            return Result(job, "sent", 250, _one_line(reply.message))
        return self._refused(job, reply.code, reply.message, at_rcpt=False)


def _addr(address: str) -> bytes:
    """A validated addr-spec as SMTP path bytes; anything else would corrupt the command."""
    if not address.isascii() or any(c in address for c in "<> \t\r\n"):
        raise ValueError(f"not a plain address: {address!r}")
    return address.encode("ascii")


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO (HELO if refused) unless connect() already did: transact() sends commands directly."""
    if not smtp.is_ehlo_or_helo_needed:
        return
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()


async def _reset(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.rset()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


async def _quit(smtp: aiosmtplib.SMTP | None) -> None:
    if smtp is None or not smtp.is_connected:
        return
    try:
        await asyncio.wait_for(smtp.quit(), 2.0)
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        smtp.close()


async def deliver(source: JobSource, transport: Transport, *, stop: asyncio.Event | None = None,
                  on_event: Callable[[str], None] | None = None) -> PoolReport:
    """Send every job the source hands out through a pool of `transport.concurrency` connections.

    Returns when the source is exhausted, or when `stop` is set (the messages in flight are
    finished first), or when the pool gives up (`PoolReport.stopped` says why). Every job
    handed out gets exactly one `done` call.
    """
    pool = _Pool(source, transport, stop or asyncio.Event(), on_event)
    await asyncio.gather(*(pool.worker() for _ in range(transport.concurrency)))
    return pool.report
