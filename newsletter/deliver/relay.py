"""The embedded outbox as a relay: deliver into it for just as long as a run delivers.

A run (send/run.py), a test send (send/testsend.py) and a confirmation mail hand this a
`Transport` (send/transport.py makes it from the config; None means no relay is
configured) and the outbox folder; with no relay the embedded SMTP server (outbox.py)
runs on 127.0.0.1 for the duration, so no mail leaves the machine by default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

from newsletter.deliver.connection import Transport
from newsletter.deliver.outbox import embedded_outbox
from newsletter.deliver.pool import PoolReport

__all__ = ["with_transport"]


async def with_transport(transport: Transport | None, outbox_dir: Path,
                         body: Callable[[Transport, Path | None], Awaitable[PoolReport]], *,
                         concurrency: int | None = None) -> PoolReport:
    """Run `body` against the relay, or against the embedded outbox in `outbox_dir` for its duration."""
    if transport is not None:
        return await body(transport, None)
    async with embedded_outbox(outbox_dir) as outbox:
        local = Transport(host=outbox.host, port=outbox.port, security="none", retry_delay=0.5)
        if concurrency:  # else the pool's own default
            local = dataclasses.replace(local, concurrency=concurrency)
        return await body(local, outbox.folder)
