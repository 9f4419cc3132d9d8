"""What a send would do, worked out before anything is written or sent.

`prepare_send` reads the subscriber list and the confirmed sign-ups (one list, each
address once, the CSV's row first), the suppressions, the saved theme choices and
the journal, and counts who gets the issue, who is excluded and why, and what a resume
picks up (`SendPlan`). The CLI shows this before asking to confirm; the run (run.py)
then writes it into the journal and sends. `exclusion` is the one rule for who is left
out, shared by the counts, the run and the dry run so they can never disagree.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from newsletter import journal
from newsletter.audience.choices import ThemeChoices, apply_choices
from newsletter.audience.signups import with_signups
from newsletter.audience.subscribers import SubscriberList, read_subscribers
from newsletter.config.loader import Config
from newsletter.deliver.connection import Transport
from newsletter.deliver.relay import resolve_transport, transport_label
from newsletter.errors import ErrorList, SendError
from newsletter.issue.build import BuildResult
from newsletter.issue.checks.findings import Finding
from newsletter.issue.variants import QUIET_REASON, Variants
from newsletter.send.messages import TemplateCache, unsubscribe_keys

__all__ = ["DUPLICATE_ROW", "INVALID_ROW", "ROW_REASONS", "SendPlan", "check_gate", "exclusion", "prepare_send"]

# Exclusions that are rows of the CSV, never recipients in the journal (singular nouns:
# the CLI counts them, "1 duplicate row", "2 duplicate rows").
DUPLICATE_ROW = "duplicate row"
INVALID_ROW = "invalid row"
ROW_REASONS = (DUPLICATE_ROW, INVALID_ROW)


@dataclass
class SendPlan:
    """What a run will do, computed without writing anything (shown before confirming)."""

    config: Config
    build: BuildResult
    slug: str
    subscribers: SubscriberList
    transport: Transport | None  # None = the embedded outbox
    keys: list[bytes] = field(repr=False, default_factory=list)
    digest: str = ""
    run: journal.Run | None = None
    to_send: int = 0  # recipients this run will try
    new: int = 0  # first time in this run
    in_flight: int = 0  # left "sending" by a crash: resent, possible duplicates
    already_sent: int = 0
    failed_before: int = 0  # failed in an earlier run; not retried unless retry_failed
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> count
    changed: bool = False  # the issue's content differs from when the run started
    retry_failed: bool = False
    concurrency: int | None = None  # --concurrency (also for the embedded outbox)
    suppressions: dict[str, str] = field(default_factory=dict, repr=False)
    states: dict[str, str] = field(default_factory=dict, repr=False)
    choices: ThemeChoices = field(default_factory=ThemeChoices)  # theme selections (issue 9)
    variants: Variants | None = field(default=None, repr=False)
    quiet: set[str] = field(default_factory=set, repr=False)  # nothing in their themes: skipped
    from_signups: int = 0  # confirmed sign-ups added to the CSV's list (not already in it)

    @property
    def resuming(self) -> bool:
        return self.run is not None

    @property
    def skipped(self) -> int:
        """Recipients this run skips (suppressed, unsubscribed, quiet, gone from the list):
        the journal's `skipped` rows for this run; CSV rows that are no recipient are left out."""
        return sum(n for reason, n in self.excluded.items() if reason not in ROW_REASONS)

    @property
    def transport_label(self) -> str:
        return transport_label(self.config, self.transport)


def prepare_send(config: Config, build: BuildResult, subscribers_path: Path, *, strict: bool = False,
                 smtp_host: str | None = None, smtp_port: int | None = None, concurrency: int | None = None,
                 retry_failed: bool = False) -> SendPlan:
    """Read everything a run needs and count what it would do; raises before anything is sent."""
    transport = resolve_transport(config, host=smtp_host, port=smtp_port, concurrency=concurrency)
    keys = unsubscribe_keys(config)
    subscribers = read_subscribers(subscribers_path, strict=strict)
    slug = build.rendered.issue.range.slug
    plan = SendPlan(config, build, slug, subscribers, transport, keys, retry_failed=retry_failed,
                    digest=TemplateCache(build.rendered, config).digest(), concurrency=concurrency)
    with contextlib.closing(journal.connect(config.state_file)) as db:
        plan.run = journal.get_run(db, slug)
        plan.suppressions = {s.email: s.reason for s in journal.list_suppressions(db)}
        plan.states = journal.recipient_states(db, plan.run.id) if plan.run else {}
        listed, plan.from_signups = with_signups(subscribers, journal.confirmed_signups(db))
        plan.subscribers, plan.choices = apply_choices(listed, config, journal.all_preferences(db),
                                                       strict=strict)
    plan.variants = Variants(build.rendered, config)
    plan.variants.prepare(plan.variants.key_of(selection) for selection in plan.choices.selections)
    if not config.quiet_month:
        plan.quiet = {s.key for s in plan.subscribers.subscribers if plan.variants.is_quiet(s.themes)}
    plan.changed = bool(plan.run and plan.run.digest and plan.run.digest != plan.digest)
    _count(plan)
    return plan


def exclusion(plan: SendPlan, key: str) -> str | None:
    """Why this subscriber gets nothing this time (suppressed, or quiet), or None."""
    reason = plan.suppressions.get(key)
    if reason:
        return f"suppressed ({reason})"
    return QUIET_REASON if key in plan.quiet else None


def _count(plan: SendPlan) -> None:
    """Fill in the plan's numbers: to send, already sent, failed before, excluded by reason."""
    excluded: dict[str, int] = {}

    def exclude(reason: str, n: int = 1) -> None:
        if n:
            excluded[reason] = excluded.get(reason, 0) + n

    for s in plan.subscribers.subscribers:
        state = plan.states.get(s.key)
        reason = exclusion(plan, s.key)
        if state == "sent":
            plan.already_sent += 1
        elif state == "failed" and not plan.retry_failed:
            plan.failed_before += 1
        elif reason:
            exclude(reason)
        elif state == "sending":
            plan.in_flight += 1
            plan.to_send += 1
        else:
            plan.to_send += 1
            plan.new += state is None
    exclude("unsubscribed in the list", len(plan.subscribers.unsubscribed))
    exclude(DUPLICATE_ROW, len(plan.subscribers.duplicates))
    exclude(INVALID_ROW, len(plan.subscribers.invalid))
    if plan.states:
        listed = {s.key for s in plan.subscribers.subscribers} | {s.key for s in plan.subscribers.unsubscribed}
        gone = sum(1 for key, state in plan.states.items() if key not in listed and state in ("pending", "deferred"))
        exclude("no longer in the list", gone)
    plan.excluded = excluded


def check_gate(result: BuildResult, *, force: bool, dry_run: bool = False) -> list[Finding]:
    """Refuse to send an issue `newsletter check` finds errors in, unless forced.

    Warnings never stop a send. With `force` (and for a dry run, which sends nothing) the
    errors come back for the caller to show, and the send goes on.
    """
    errors = [f for f in result.findings if f.severity == "error"]
    if not errors or force or dry_run:
        return errors
    slug = result.rendered.issue.range.slug
    raise ErrorList([*(SendError(f"{f.rule}: {f.message}", path=f.where, hint=f.hint or None) for f in errors),
                     SendError(f"not sending: `newsletter check` found {len(errors)} "
                               f"error{'s' * (len(errors) != 1)} in the issue",
                               hint=f"`newsletter check {slug}` lists them; fix them, or send anyway with --force")])
