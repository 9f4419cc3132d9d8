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
from newsletter.audience import SubscriberList, ThemeChoices, apply_choices, read_subscribers, with_signups
from newsletter.config import Config
from newsletter.deliver import Transport, resolve_transport, transport_label
from newsletter.errors import ErrorList, SendError
from newsletter.issue import QUIET_REASON, BuildResult, Finding, Variants
from newsletter.send.messages import TemplateCache, unsubscribe_keys

__all__ = ["DUPLICATE_ROW", "INVALID_ROW", "ROW_REASONS", "SendPlan", "check_gate", "exclusion", "prepare_send"]

# Exclusions that are rows of the CSV, never recipients in the journal (singular nouns:
# the CLI counts them, "1 duplicate row", "2 duplicate rows").
DUPLICATE_ROW = "duplicate row"
INVALID_ROW = "invalid row"
ROW_REASONS = (DUPLICATE_ROW, INVALID_ROW)


@dataclass(frozen=True)
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
    listed = read_subscribers(subscribers_path, strict=strict)
    slug = build.rendered.issue.range.slug
    with contextlib.closing(journal.connect(config.state_file)) as db:
        run = journal.get_run(db, slug)
        suppressions = {s.email: s.reason for s in journal.list_suppressions(db)}
        states = journal.recipient_states(db, run.id) if run else {}
        with_page, from_signups = with_signups(listed, journal.confirmed_signups(db))
        subscribers, choices = apply_choices(with_page, config, journal.all_preferences(db), strict=strict)
    variants = Variants(build.rendered, config)
    variants.prepare(variants.key_of(selection) for selection in choices.selections)
    quiet = set() if config.quiet_month else {s.key for s in subscribers.subscribers if variants.is_quiet(s.themes)}
    digest = TemplateCache(build.rendered, config).digest()
    counts = _count(subscribers, states, suppressions, quiet, retry_failed=retry_failed)
    return SendPlan(config, build, slug, subscribers, transport, keys, digest=digest, run=run,
                    to_send=counts.to_send, new=counts.new, in_flight=counts.in_flight,
                    already_sent=counts.already_sent, failed_before=counts.failed_before,
                    excluded=counts.excluded, changed=bool(run and run.digest and run.digest != digest),
                    retry_failed=retry_failed, concurrency=concurrency, suppressions=suppressions,
                    states=states, choices=choices, variants=variants, quiet=quiet, from_signups=from_signups)


def exclusion(plan: SendPlan, key: str) -> str | None:
    """Why this subscriber gets nothing this time (suppressed, or quiet), or None."""
    return _exclusion(plan.suppressions, plan.quiet, key)


def _exclusion(suppressions: dict[str, str], quiet: set[str], key: str) -> str | None:
    reason = suppressions.get(key)
    if reason:
        return f"suppressed ({reason})"
    return QUIET_REASON if key in quiet else None


@dataclass(frozen=True)
class _Counts:
    to_send: int
    new: int
    in_flight: int
    already_sent: int
    failed_before: int
    excluded: dict[str, int]


def _count(subscribers: SubscriberList, states: dict[str, str], suppressions: dict[str, str], quiet: set[str],
           *, retry_failed: bool) -> _Counts:
    """The plan's numbers: to send, already sent, failed before, excluded by reason."""
    excluded: dict[str, int] = {}
    to_send = new = in_flight = already_sent = failed_before = 0

    def exclude(reason: str, n: int = 1) -> None:
        if n:
            excluded[reason] = excluded.get(reason, 0) + n

    for s in subscribers.subscribers:
        state = states.get(s.key)
        reason = _exclusion(suppressions, quiet, s.key)
        if state == "sent":
            already_sent += 1
        elif state == "failed" and not retry_failed:
            failed_before += 1
        elif reason:
            exclude(reason)
        elif state == "sending":
            in_flight += 1
            to_send += 1
        else:
            to_send += 1
            new += state is None
    exclude("unsubscribed in the list", len(subscribers.unsubscribed))
    exclude(DUPLICATE_ROW, len(subscribers.duplicates))
    exclude(INVALID_ROW, len(subscribers.invalid))
    if states:
        listed = {s.key for s in subscribers.subscribers} | {s.key for s in subscribers.unsubscribed}
        gone = sum(1 for key, state in states.items() if key not in listed and state in ("pending", "deferred"))
        exclude("no longer in the list", gone)
    return _Counts(to_send, new, in_flight, already_sent, failed_before, excluded)


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
