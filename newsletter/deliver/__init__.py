"""The deliver stage: jobs in, SMTP outcomes out; the only stage that speaks SMTP.

Takes a `JobSource` (the send's journal, or a test send's fixed list) and a `Transport`
(a relay from the config, or the embedded outbox on 127.0.0.1); runs a pool of
connections at a set pace and gives back one `Result` per `Job` and a `PoolReport`.
"""

from __future__ import annotations

from newsletter.deliver.connection import Transport
from newsletter.deliver.pool import JobSource, PoolReport, deliver
from newsletter.deliver.relay import with_transport
from newsletter.deliver.transaction import Job, Result

__all__ = ["Job", "JobSource", "PoolReport", "Result", "Transport", "deliver", "with_transport"]
