"""Which SMTP server a send goes through: the configured relay, or the embedded outbox.

Both a run (send/run.py) and a test send (send/testsend.py) resolve the transport the same way,
describe it the same way, and, when no relay is configured, start the embedded outbox
(outbox.py) for just as long as they deliver, so no mail leaves the machine by default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from newsletter.config import Config, SmtpConfig
from newsletter.deliver.connection import Transport, transport_from_config
from newsletter.deliver.outbox import embedded_outbox
from newsletter.deliver.pool import PoolReport
from newsletter.errors import SendError

__all__ = ["resolve_transport", "transport_label", "with_transport"]


def _smtp_config(config: Config, host: str | None) -> SmtpConfig | None:
    """The `smtp:` block; without one, `--smtp-host` alone stands for a relay with the defaults."""
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


def transport_label(config: Config, transport: Transport | None) -> str:
    """Where the mail goes, as the confirmation and the summary say it."""
    if transport is None:
        return f"the local outbox {config.outbox_dir} (no mail leaves this machine)"
    return f"{transport.label} ({transport.security})"


async def with_transport(transport: Transport | None, config: Config,
                         body: Callable[[Transport, Path | None], Awaitable[PoolReport]], *,
                         concurrency: int | None = None) -> PoolReport:
    """Run `body` against the configured relay, or against the embedded outbox for its duration."""
    if transport is not None:
        return await body(transport, None)
    async with embedded_outbox(config.outbox_dir) as outbox:
        local = Transport(host=outbox.host, port=outbox.port, security="none", concurrency=concurrency or 4,
                          retry_delay=0.5)
        return await body(local, outbox.folder)
