"""Test sends: the current build to a few addresses, subject prefixed "[TEST] ", journal untouched.

Used by `newsletter send --test` and the preview's "send test" button. It goes through
the same transport and makes messages the same way as a real run (deliver/relay.py,
messages.py); only the job source differs: a fixed list with retries in memory instead
of the journal job source, so a test never marks anyone as sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
from collections import deque
from email.utils import format_datetime
from pathlib import Path

from newsletter.addresses import address_key, check_address
from newsletter.audience import Subscriber
from newsletter.config import Config
from newsletter.deliver import Job, PoolReport, Result, Transport, deliver, with_transport
from newsletter.errors import SendError
from newsletter.issue import BuildResult
from newsletter.journal import DeliveryStatus
from newsletter.send.messages import (
    Composer,
    TemplateCache,
    envelope_sender,
    load_signer_for,
    unsubscribe_keys,
)
from newsletter.send.report import FailedRecipient, SendReport
from newsletter.send.transport import resolve_transport, transport_label

__all__ = ["TEST_PREFIX", "send_test", "send_test_async"]

TEST_PREFIX = "[TEST] "


class _ListSource:
    """A job source over a fixed list (test sends): no journal, retries in memory."""

    def __init__(self, jobs: list[Job], report: SendReport) -> None:
        self.jobs = deque(jobs)
        self.report = report
        self.outstanding = 0
        self.changed = asyncio.Event()

    async def next_job(self) -> Job | None:
        while not self.jobs and self.outstanding:
            self.changed.clear()
            await self.changed.wait()
        if not self.jobs:
            return None
        self.outstanding += 1
        return self.jobs.popleft()

    def done(self, result: Result) -> None:
        self.outstanding -= 1
        if result.status is DeliveryStatus.SENT:
            self.report.sent += 1
        elif result.status is DeliveryStatus.DEFERRED and result.retry_in is not None:
            asyncio.get_running_loop().call_later(result.retry_in, self._again, result.job)
            self.outstanding += 1
        elif result.status is DeliveryStatus.FAILED:
            self.report.failed += 1
            self.report.failures.append(FailedRecipient(result.job.recipient, "", "failed", result.summary))
        else:  # deferred for good, or never tried because the pool stopped
            self.report.deferred += 1
            self.report.failures.append(FailedRecipient(result.job.recipient, "", "deferred", result.summary))
        self.changed.set()

    def _again(self, job: Job) -> None:
        job.attempts += 1
        self.outstanding -= 1
        self.jobs.append(job)
        self.changed.set()


async def send_test_async(config: Config, build: BuildResult, addresses: list[str], *,
                          smtp_host: str | None = None, smtp_port: int | None = None) -> SendReport:
    """`send_test` for callers already inside an event loop."""
    if not addresses:
        raise SendError("no test addresses given", hint="e.g. --test you@example.org")
    valid = []
    for address in addresses:
        try:
            valid.append(check_address(address))
        except ValueError as exc:
            raise SendError(f"not a valid test address {address!r}: {exc}", field="--test") from exc
    transport = resolve_transport(config, host=smtp_host, port=smtp_port)
    keys = unsubscribe_keys(config)
    composer = Composer(config, TemplateCache(build.rendered, config, subject_prefix=TEST_PREFIX), keys,
                        load_signer_for(config))
    date = format_datetime(dt.datetime.now(dt.UTC))  # +0000: RFC 5322's zone, not the obsolete GMT
    jobs = []
    for address in {address_key(a): a for a in reversed(valid)}.values():  # once per address, first spelling
        subscriber = Subscriber(address)
        message_id = f"<test.{secrets.token_hex(10)}@{config.sender_domain}>"
        data, stuffed = composer.wire(subscriber, message_id, date)
        jobs.append(Job(address_key(address), envelope_sender(config, subscriber), address, data, stuffed=stuffed))
    report = SendReport(build.rendered.issue.range.slug, transport_label(config, transport), test=True,
                        requested=len(jobs))
    source = _ListSource(jobs, report)

    async def body(t: Transport, outbox: Path | None) -> PoolReport:
        report.outbox = outbox
        return await deliver(source, dataclasses.replace(t, concurrency=min(t.concurrency, len(jobs))))

    pool = await with_transport(transport, config.outbox_dir, body)
    report.stopped, report.fatal = pool.stopped, pool.fatal
    return report


def send_test(config: Config, build: BuildResult, addresses: list[str], *,
              smtp_host: str | None = None, smtp_port: int | None = None) -> SendReport:
    """Send the current build to `addresses` with the subject prefixed "[TEST] ".

    Goes through the configured transport (the embedded outbox by default), takes the
    build `send` would send, and leaves the run's journal records alone. Raises
    `SendError` for an invalid address or a transport that cannot be used. Synchronous:
    from async code await `send_test_async` or call this in a thread.
    """
    return asyncio.run(send_test_async(config, build, addresses, smtp_host=smtp_host, smtp_port=smtp_port))
