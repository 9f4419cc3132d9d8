"""The deliver stage: jobs in, SMTP outcomes out; the only stage that speaks SMTP.

Takes a `JobSource` (the send's journal, or a test send's fixed list) and a `Transport`
(a relay from the config, or the embedded outbox on 127.0.0.1); runs a pool of
connections at a set pace and gives back one `Result` per `Job` and a `PoolReport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter.faces import load

if TYPE_CHECKING:
    from newsletter.deliver.connection import ConnectionFailed, Connector, Fatal, Transport, close_politely, transport_from_config
    from newsletter.deliver.pace import RateLimiter
    from newsletter.deliver.pool import PoolReport, deliver
    from newsletter.deliver.relay import resolve_transport, transport_label, with_transport
    from newsletter.deliver.transaction import Job, Result

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "close_politely": "newsletter.deliver.connection",
    "ConnectionFailed": "newsletter.deliver.connection",
    "Connector": "newsletter.deliver.connection",
    "deliver": "newsletter.deliver.pool",
    "Fatal": "newsletter.deliver.connection",
    "Job": "newsletter.deliver.transaction",
    "PoolReport": "newsletter.deliver.pool",
    "RateLimiter": "newsletter.deliver.pace",
    "resolve_transport": "newsletter.deliver.relay",
    "Result": "newsletter.deliver.transaction",
    "Transport": "newsletter.deliver.connection",
    "transport_from_config": "newsletter.deliver.connection",
    "transport_label": "newsletter.deliver.relay",
    "with_transport": "newsletter.deliver.relay",
}

__all__ = [
    "close_politely",
    "ConnectionFailed",
    "Connector",
    "deliver",
    "Fatal",
    "Job",
    "PoolReport",
    "RateLimiter",
    "resolve_transport",
    "Result",
    "Transport",
    "transport_from_config",
    "transport_label",
    "with_transport",
]


def __getattr__(name: str) -> object:
    return load(__name__, _EXPORTS, name)
