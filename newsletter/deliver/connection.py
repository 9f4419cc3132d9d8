"""One SMTP connection: where the relay is, and the TLS and AUTH policy for talking to it.

`Transport` says where and how to connect (send/transport.py makes it from the `smtp:` block
and the command line);
`check_transport` refuses, before any connection, settings that would expose mail or a
password on the network; `Connector.connect` opens a session, greets it and logs in,
sorting what goes wrong into a passing outage (`ConnectionFailed`: try again later) or a
problem every recipient would hit alike (`Fatal`: stop the run, fix the configuration).
The pool (pool.py) decides what to do with either; this module only connects.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib

from newsletter.deliver.net import host_resolves, is_loopback, make_resolver, nameserver_from_env
from newsletter.errors import SendError

__all__ = [
    "MAX_BACKOFF",
    "ConnectionFailed",
    "Connector",
    "Fatal",
    "Transport",
    "check_transport",
    "close_politely",
    "one_line",
]

MAX_BACKOFF = 60.0
SETUP_DEADLINE = 20.0  # seconds, at most, for each step of opening a session
DATA_DEADLINE_FACTOR = 4  # the reply to a message may take this many `timeout`s


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

    @property
    def setup_timeout(self) -> float:
        """Seconds for each step of opening a session (connect, greeting, EHLO, STARTTLS, AUTH).

        A live relay answers these in well under a second; RFC 5321's minutes are for a
        server busy with a message. Capped so a relay that accepts the connection and says
        nothing fails the run within 30 s, whatever `timeout` says."""
        return min(self.timeout, SETUP_DEADLINE)

    @property
    def data_timeout(self) -> float:
        """Seconds for the reply to a whole message: the relay may be scanning it (RFC 5321 4.5.3.2)."""
        return DATA_DEADLINE_FACTOR * self.timeout

    def backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` tries: `retry_delay` doubling each time, at most a minute."""
        return min(MAX_BACKOFF, self.retry_delay * 2 ** (failures - 1))


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


class ConnectionFailed(Exception):
    """The connection could not be made or was lost; try again later.

    `setting` names the config key to blame when this happens before any connection of
    the run succeeded (a host that does not resolve, a port nothing listens on): then it
    is a configuration error, and the pool stops at once instead of retrying for a minute.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class Fatal(Exception):
    """A problem every recipient would hit alike (login refused, sender refused, no TLS).

    `str()` starts with the config key to fix (`smtp.host: ...`) where there is one.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(f"{setting}: {message}" if setting else message)
        self.setting = setting


def _blame(exc: BaseException, t: Transport) -> tuple[str, str] | None:
    """(setting, why) when a failed connect is the configuration's fault, from the cause chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "smtp.host", (f"{t.host} does not resolve in DNS ({seen.strerror or seen}); "
                                 "check the relay's host name")
        if isinstance(seen, ConnectionRefusedError):
            return "smtp.port", (f"{t.host} refused the connection on port {t.port}: nothing listens there; "
                                 "check the port (587 for starttls, 465 for tls) and the host")
        if isinstance(seen, ssl.SSLError) and not isinstance(seen, ssl.SSLCertVerificationError):
            return "smtp.security", (f"TLS with {t.host}:{t.port} failed ({seen.reason or seen}); use "
                                     "security: tls for port 465, starttls for 587")
        seen = seen.__cause__ or seen.__context__
    return None


def one_line(message: str) -> str:
    """A server reply as one bounded line, fit for the journal and the summary."""
    return " ".join(message.split())[:500]


@functools.cache
def _our_name() -> str:
    """Our EHLO name: `getfqdn` may wait on DNS, so it is asked once per process."""
    return socket.getfqdn()


class Connector:
    """Opens sessions to one transport; the TLS context (none for plain SMTP) and our EHLO
    name are made once per pool."""

    def __init__(self, transport: Transport, on_wait: Callable[[str], None] | None = None) -> None:
        self.t = transport
        self.on_wait = on_wait or (lambda what: None)
        self.local_hostname = "localhost" if transport.loopback else _our_name()
        self.tls_context = None if transport.security == "none" else self._tls_context()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.t.ca_file) if self.t.ca_file else None)
        if self.t.loopback:  # never leaves the machine: a local relay's snakeoil certificate is fine
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _check_name(self) -> None:
        """With `$NEWSLETTER_NAMESERVER` set (split DNS, tests), the relay's name must resolve there."""
        nameserver = nameserver_from_env()
        if nameserver is None or self.t.loopback:
            return
        if await asyncio.to_thread(host_resolves, make_resolver(nameserver), self.t.host) is False:
            raise ConnectionFailed(f"{self.t.host} does not resolve in DNS (asked {nameserver}); "
                                   "check the relay's host name", setting="smtp.host")

    async def connect(self) -> aiosmtplib.SMTP:
        """A greeted (and, with a username, logged-in) session; `ConnectionFailed` or `Fatal` if not.

        Each stage (connect, greeting, EHLO, STARTTLS, AUTH) has its deadline (`Transport.
        setup_timeout`), is announced through `on_wait` while it waits, and must leave no
        reply unread: a second greeting or an extra line is a protocol error, not a reply
        to the next command.
        """
        t = self.t
        await self._check_name()
        smtp = aiosmtplib.SMTP(hostname=t.host, port=t.port, timeout=t.setup_timeout, use_tls=t.security == "tls",
                               start_tls=False, tls_context=self.tls_context, local_hostname=self.local_hostname)
        stage = "connect"
        try:
            self.on_wait(f"connecting to {t.label}")
            await smtp.connect()
            stage = "EHLO"
            self.on_wait(f"waiting for {t.label} to answer EHLO")
            await _greet(smtp)
            if t.security == "starttls" and (smtp.supports_extension("starttls") or not t.loopback):
                stage = "STARTTLS"
                self.on_wait(f"waiting for {t.label} to start TLS")
                await smtp.starttls()
                stage = "EHLO"
                await _greet(smtp)
            if t.username:
                if not t.loopback and smtp.get_transport_info("sslcontext") is None:
                    raise Fatal(f"{t.host} did not switch to TLS; refusing to send the password in clear",
                                setting="smtp.security")
                stage = "AUTH"
                self.on_wait(f"waiting for {t.label} to accept the login")
                await smtp.login(t.username, t.password or "")
            stale = bytes(getattr(smtp.protocol, "_buffer", b"")[:120]).decode("utf-8", "replace").strip()
            if stale:
                raise _OutOfStep(f"the server sent {stale!r} after its reply to {stage}")
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise Fatal(f"{t.host} refused the login for {t.username}: {exc.code} {one_line(exc.message)} "
                        "(check smtp.username and the password)", setting="smtp.password_env") from exc
        except ssl.SSLCertVerificationError as exc:
            smtp.close()
            raise Fatal(f"cannot verify {t.host}'s TLS certificate: {exc.verify_message} (use the name the "
                        "certificate is for, or smtp.ca_file for a private CA)", setting="smtp.host") from exc
        except _OutOfStep as exc:
            smtp.close()
            raise ConnectionFailed(f"protocol error: {exc}") from exc
        except aiosmtplib.SMTPConnectResponseError as exc:
            smtp.close()
            raise ConnectionFailed(f"{exc.code} {one_line(exc.message)}") from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            smtp.close()
            raise _silent(t, "greeting" if "ready message" in str(exc) else stage) from exc
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            if exc.code == 421 or 400 <= exc.code < 500:
                raise ConnectionFailed(f"{exc.code} {one_line(exc.message)}") from exc
            if not 500 <= exc.code < 600:  # a 2xx or 3xx that cannot answer this command
                raise ConnectionFailed(f"protocol error: {exc.code} {one_line(exc.message)} in reply to "
                                       f"{stage}") from exc
            if stage == "STARTTLS":
                raise Fatal(f"{t.host} refused STARTTLS: {exc.code} {one_line(exc.message)}",
                            setting="smtp.security") from exc
            raise Fatal(f"{t.host} refused the session: {exc.code} {one_line(exc.message)}") from exc
        except (aiosmtplib.SMTPNotSupported, aiosmtplib.SMTPException) as exc:
            smtp.close()
            if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected)):
                raise _failed(exc, t) from exc
            if "STARTTLS extension not supported" in str(exc):
                raise Fatal(f"{t.host} does not offer STARTTLS; use security: tls (port 465), or a relay that "
                            "offers it", setting="smtp.security") from exc
            raise Fatal(f"{t.host}: {one_line(str(exc))}") from exc
        except TimeoutError as exc:
            smtp.close()
            raise _silent(t, stage) from exc
        except (OSError, ssl.SSLError) as exc:
            smtp.close()
            raise _failed(exc, t) from exc
        finally:
            self.on_wait("")
        return smtp


class _OutOfStep(Exception):
    """A reply where none was due: the session can no longer tell whose reply is whose."""


def _silent(t: Transport, stage: str) -> ConnectionFailed:
    """A relay that stopped answering while the session was being opened, named by the stage.

    It carries a `setting`, so before any session of the run succeeded it stops the run at
    once (pool.py) rather than after `max_connection_failures` times the deadline."""
    n = f"{t.setup_timeout:g} s"
    if stage == "connect":
        text = f"{t.label} did not complete the connection within {n} (a firewall dropping it, or the wrong host)"
    elif stage == "greeting":
        text = (f"{t.label} accepted the connection but sent no greeting within {n} (a firewall or proxy that "
                "drops SMTP, or not an SMTP server on this port)")
    else:
        text = f"{t.label} stopped answering at {stage}: no reply within {n}"
    return ConnectionFailed(text, setting="smtp.host")


def _failed(exc: BaseException, t: Transport) -> ConnectionFailed:
    """A failed connect, with the setting to blame when the cause is one a retry cannot mend."""
    blamed = _blame(exc, t)
    if blamed is None:
        return ConnectionFailed(one_line(str(exc)) or type(exc).__name__)
    setting, why = blamed
    return ConnectionFailed(why, setting=setting)


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, HELO only when EHLO is refused as unknown (5xx): anything else is no reply to EHLO."""
    if not smtp.is_ehlo_or_helo_needed:
        return
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError as exc:
        if not 500 <= exc.code < 600:
            raise
        await smtp.helo()


async def close_politely(smtp: aiosmtplib.SMTP | None) -> None:
    """QUIT, waiting briefly for the reply; close the socket if the server does not answer."""
    if smtp is None or not smtp.is_connected:
        return
    try:
        await asyncio.wait_for(smtp.quit(), 2.0)
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        smtp.close()
