"""One SMTP connection: where the relay is, and the TLS and AUTH policy for talking to it.

`Transport` says where and how to connect (from the `smtp:` block and the command line);
`check_transport` refuses, before any connection, settings that would expose mail or a
password on the network; `Connector.connect` opens a session, greets it and logs in,
sorting what goes wrong into a passing outage (`ConnectionFailed`: try again later) or a
problem every recipient would hit alike (`Fatal`: stop the run, fix the configuration).
The pool (pool.py) decides what to do with either; this module only connects.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib

from newsletter.config import SmtpConfig
from newsletter.errors import ConfigError, SendError
from newsletter.net import host_resolves, is_loopback, make_resolver, nameserver_from_env

__all__ = [
    "MAX_BACKOFF",
    "ConnectionFailed",
    "Connector",
    "Fatal",
    "Transport",
    "check_transport",
    "close_politely",

    "one_line",
    "transport_from_config",
]

MAX_BACKOFF = 60.0


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


class Connector:
    """Opens sessions to one transport; the TLS context and our EHLO name are made once per pool."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport
        self.local_hostname = "localhost" if transport.loopback else socket.getfqdn()
        self.tls_context = self._tls_context()

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
        """A greeted (and, with a username, logged-in) session; `ConnectionFailed` or `Fatal` if not."""
        t = self.t
        if t.security == "starttls":
            start_tls: bool | None = None if t.loopback else True
        else:
            start_tls = False
        await self._check_name()
        smtp = aiosmtplib.SMTP(hostname=t.host, port=t.port, timeout=t.timeout, use_tls=t.security == "tls",
                               start_tls=start_tls, tls_context=self.tls_context,
                               local_hostname=self.local_hostname)
        try:
            await smtp.connect()
            await _greet(smtp)
            if t.username:
                if not t.loopback and smtp.get_transport_info("sslcontext") is None:
                    raise Fatal(f"{t.host} did not switch to TLS; refusing to send the password in clear",
                                setting="smtp.security")
                await smtp.login(t.username, t.password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise Fatal(f"{t.host} refused the login for {t.username}: {exc.code} {one_line(exc.message)} "
                        "(check smtp.username and the password)", setting="smtp.password_env") from exc
        except ssl.SSLCertVerificationError as exc:
            smtp.close()
            raise Fatal(f"cannot verify {t.host}'s TLS certificate: {exc.verify_message} (use the name the "
                        "certificate is for, or smtp.ca_file for a private CA)", setting="smtp.host") from exc
        except aiosmtplib.SMTPConnectResponseError as exc:
            smtp.close()
            raise ConnectionFailed(f"{exc.code} {one_line(exc.message)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            if exc.code == 421 or 400 <= exc.code < 500:
                raise ConnectionFailed(f"{exc.code} {one_line(exc.message)}") from exc
            raise Fatal(f"{t.host} refused the session: {exc.code} {one_line(exc.message)}") from exc
        except (aiosmtplib.SMTPNotSupported, aiosmtplib.SMTPException) as exc:
            smtp.close()
            if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError,
                                aiosmtplib.SMTPServerDisconnected)):
                raise _failed(exc, t) from exc
            raise Fatal(f"{t.host}: {one_line(str(exc))}") from exc
        except (TimeoutError, OSError, ssl.SSLError) as exc:
            smtp.close()
            raise _failed(exc, t) from exc
        return smtp


def _failed(exc: BaseException, t: Transport) -> ConnectionFailed:
    """A failed connect, with the setting to blame when the cause is one a retry cannot mend."""
    blamed = _blame(exc, t)
    if blamed is None:
        return ConnectionFailed(one_line(str(exc)) or type(exc).__name__)
    setting, why = blamed
    return ConnectionFailed(why, setting=setting)


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO (HELO if refused) unless connect() already did: transact() sends commands directly."""
    if not smtp.is_ehlo_or_helo_needed:
        return
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()


async def close_politely(smtp: aiosmtplib.SMTP | None) -> None:
    """QUIT, waiting briefly for the reply; close the socket if the server does not answer."""
    if smtp is None or not smtp.is_connected:
        return
    try:
        await asyncio.wait_for(smtp.quit(), 2.0)
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        smtp.close()
