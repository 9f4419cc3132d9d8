"""The deliver stage: jobs in, SMTP outcomes out; the only stage that speaks SMTP.

Takes a `JobSource` (the send's journal, or a test send's fixed list) and a `Transport`
(a relay from the config, or the embedded outbox on 127.0.0.1); runs a pool of
connections at a set pace and gives back one `Result` per `Job` and a `PoolReport`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.deliver.connection import ConnectionFailed, Connector, Fatal, Transport, check_transport, close_politely
    from newsletter.deliver.net import is_loopback, make_resolver
    from newsletter.deliver.pace import RateLimiter
    from newsletter.deliver.pool import PoolReport, deliver
    from newsletter.deliver.relay import with_transport
    from newsletter.deliver.transaction import Job, Result

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "check_transport": "newsletter.deliver.connection",
    "close_politely": "newsletter.deliver.connection",
    "ConnectionFailed": "newsletter.deliver.connection",
    "Connector": "newsletter.deliver.connection",
    "deliver": "newsletter.deliver.pool",
    "Fatal": "newsletter.deliver.connection",
    "is_loopback": "newsletter.deliver.net",
    "Job": "newsletter.deliver.transaction",
    "make_resolver": "newsletter.deliver.net",
    "PoolReport": "newsletter.deliver.pool",
    "RateLimiter": "newsletter.deliver.pace",
    "Result": "newsletter.deliver.transaction",
    "Transport": "newsletter.deliver.connection",
    "with_transport": "newsletter.deliver.relay",
}

__all__ = [
    "check_transport",
    "close_politely",
    "ConnectionFailed",
    "Connector",
    "deliver",
    "Fatal",
    "is_loopback",
    "Job",
    "make_resolver",
    "PoolReport",
    "RateLimiter",
    "Result",
    "Transport",
    "with_transport",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
