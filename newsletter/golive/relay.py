"""The relay as `send` will meet it: connect, EHLO, STARTTLS or TLS, AUTH, then QUIT unsent.

It opens one session exactly as the delivery pool does (deliver/connection.py, so the
same TLS and AUTH policy and the same named settings in its errors) and sends no message.
"""

from __future__ import annotations

import asyncio
import dataclasses

from newsletter.config import Config
from newsletter.deliver import ConnectionFailed, Connector, Fatal, Transport, close_politely
from newsletter.errors import NewsletterError
from newsletter.golive.findings import Diagnosis, error, ok, warning
from newsletter.send import transport_from_config

__all__ = ["PROBE_TIMEOUT", "check_relay", "relay_transport"]

PROBE_TIMEOUT = 10.0


def relay_transport(config: Config, *, log_in: bool = True) -> tuple[Transport | None, list[Diagnosis]]:
    """The configured relay, or None with the finding that says why there is none to check.
    Without `log_in` (no session will be opened) the password is not read."""
    if config.smtp is None:
        return None, [warning("relay", "no smtp: block: `send` delivers into the local outbox/ only",
                              "add smtp: {host, port, security, username, password_env} for your provider")]
    try:
        return transport_from_config(config.smtp, log_in=log_in), []
    except NewsletterError as exc:
        return None, [error("relay", str(exc))]


async def _session(transport: Transport) -> str:
    """Open, greet, secure and log in; what was done, as one phrase."""
    smtp = await Connector(transport).connect()
    try:
        secured = smtp.get_transport_info("sslcontext") is not None
        done = ["connected", "EHLO"]
        if transport.security == "tls":
            done.append("TLS (certificate valid)" if not transport.loopback else "TLS")
        elif secured:
            done.append("STARTTLS (certificate valid)" if not transport.loopback else "STARTTLS")
        if transport.username:
            done.append(f"AUTH as {transport.username}")
        return ", ".join(done)
    finally:
        await close_politely(smtp)


def check_relay(transport: Transport) -> list[Diagnosis]:
    """One session to the relay without sending; each failure names the setting to fix."""
    probe = dataclasses.replace(transport, timeout=min(transport.timeout, PROBE_TIMEOUT))
    try:
        done = asyncio.run(_session(probe))
    except Fatal as exc:
        return [error("relay", str(exc))]
    except ConnectionFailed as exc:
        where = f"{exc.setting}: " if exc.setting else ""
        return [error("relay", f"{where}cannot connect to {transport.label}: {exc}")]
    found = [ok("relay", f"{transport.label} ({transport.security}): {done}; no message sent")]
    if transport.security == "none" and not transport.loopback:
        found.append(warning("relay", "mail to the relay travels unencrypted", "use security: starttls or tls"))
    return found
