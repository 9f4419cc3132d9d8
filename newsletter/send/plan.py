"""What a send would do, worked out before anything is written or sent.

`prepare_send` takes the resolved audience (audience/resolved.py: the subscriber list
and the confirmed sign-ups, each address once, the CSV's row first, with the saved theme
choices and the suppressions; read once, and checked version by version before this)
and the journal's run, and counts who gets the issue, who is excluded and why, and what
a resume picks up (`SendPlan`). The CLI shows this before asking to confirm; the run (run.py)
then writes it into the journal and sends.

Which run it is follows from where the mail goes: into the embedded outbox it is a
rehearsal (RunKind.REHEARSAL), its own run, which never counts anyone as sent for the
real one and starts afresh once finished (an unfinished one resumes, as after a crash);
through any relay, loopback included, it is the real run, which resumes wherever it
stopped, through the same relay or another. `exclusion` is the one rule for who is left
out, shared by the counts, the run and the dry run so they can never disagree.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from newsletter import journal
from newsletter.audience import Audience, SubscriberList, ThemeChoices
from newsletter.config import SECTIONS, Config
from newsletter.deliver import Transport
from newsletter.errors import ErrorList, SendError
from newsletter.issue import BuildResult, Finding, Variants, example_placeholders
from newsletter.journal import RecipientState, SkipReason, SuppressionReason
from newsletter.send.messages import TemplateCache, unsubscribe_keys
from newsletter.send.transport import resolve_transport, transport_label

__all__ = ["DUPLICATE_ROW", "INVALID_ROW", "ROW_REASONS", "SendPlan", "check_gate", "exclusion", "prepare_send"]

# Exclusions that are rows of the CSV, never recipients in the journal (singular nouns:
# the CLI counts them, "1 duplicate row", "2 duplicate rows").
DUPLICATE_ROW = "duplicate row"
INVALID_ROW = "invalid row"
ROW_REASONS = (DUPLICATE_ROW, INVALID_ROW)
# Check errors that stop only a send that leaves this machine (see check_gate).
LOCAL_ONLY_RULES = frozenset({"placeholder"})
_WAITING = (RecipientState.PENDING, RecipientState.DEFERRED)  # not yet sent or given up on


@dataclass(frozen=True)
class SendPlan:
    """What a run will do, computed without writing anything (shown before confirming)."""

    config: Config
    build: BuildResult
    slug: str
    subscribers: SubscriberList
    transport: Transport | None  # None = the embedded outbox: a rehearsal
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
    concurrency: int = 1  # connections to the embedded outbox: --concurrency, else smtp.concurrency's default
    suppressions: dict[str, str] = field(default_factory=dict, repr=False)
    states: dict[str, str] = field(default_factory=dict, repr=False)
    choices: ThemeChoices = field(default_factory=ThemeChoices)  # theme selections (issue 9)
    variants: Variants | None = field(default=None, repr=False)
    quiet: set[str] = field(default_factory=set, repr=False)  # nothing in their themes: skipped
    from_signups: int = 0  # confirmed sign-ups added to the CSV's list (not already in it)
    relays: dict[str, int] = field(default_factory=dict)  # a resumed real run: host:port -> accepted so far
    rehearsed: journal.Run | None = None  # a real run's plan: the issue's last rehearsal, if any

    @property
    def kind(self) -> journal.RunKind:
        """REHEARSAL into the embedded outbox, REAL through any relay."""
        return journal.RunKind.REHEARSAL if self.transport is None else journal.RunKind.REAL

    @property
    def rehearsal(self) -> bool:
        return self.transport is None

    @property
    def resuming(self) -> bool:
        return self.run is not None

    @property
    def relay(self) -> str:
        """What a sent row records as the server that accepted it."""
        return "outbox" if self.transport is None else self.transport.label

    @property
    def skipped(self) -> int:
        """Recipients this run skips (suppressed, unsubscribed, quiet, gone from the list):
        the journal's `skipped` rows for this run; CSV rows that are no recipient, and erased
        addresses (never written to the journal again), are left out."""
        return sum(n for reason, n in self.excluded.items() if reason not in (*ROW_REASONS, SuppressionReason.ERASED))

    @property
    def transport_label(self) -> str:
        return transport_label(self.config, self.transport)


def prepare_send(config: Config, build: BuildResult, audience: Audience, *, smtp_host: str | None = None,
                 smtp_port: int | None = None, concurrency: int | None = None,
                 retry_failed: bool = False, log_in: bool = True) -> SendPlan:
    """Count what a run would do for the resolved `audience`; raises before anything is sent.
    `log_in=False` (a dry run, which connects to nothing) reads no SMTP password."""
    transport = resolve_transport(config, host=smtp_host, port=smtp_port, concurrency=concurrency, log_in=log_in)
    keys = unsubscribe_keys(config)
    slug = build.rendered.issue.range.slug
    kind = journal.RunKind.REHEARSAL if transport is None else journal.RunKind.REAL
    with contextlib.closing(journal.connect(config.state)) as db:
        run = journal.get_run(db, slug, kind)
        if run is not None and run.rehearsal and run.finished:
            run = None  # a finished rehearsal is rehearsed again from the start
        relays = journal.relay_counts(db, run.id) if run is not None and not run.rehearsal else {}
        rehearsed = journal.get_run(db, slug, journal.RunKind.REHEARSAL) if kind is journal.RunKind.REAL else None
        states = journal.recipient_states(db, run.id) if run else {}
    subscribers, choices, suppressions = audience.subscribers, audience.choices, dict(audience.suppressions)
    variants = Variants(build.rendered, config)
    for language in dict.fromkeys(s.language for s in subscribers.subscribers):  # every version, before sending
        version = variants.for_language(language)
        version.prepare(version.key_of(selection) for selection in choices.selections)
    quiet = set() if config.quiet_month else {s.key for s in subscribers.subscribers if variants.is_quiet(s.themes)}
    digest = TemplateCache(build.rendered, config).digest()
    counts = _count(subscribers, states, suppressions, quiet, retry_failed=retry_failed)
    return SendPlan(config, build, slug, subscribers, transport, keys, digest=digest, run=run,
                    to_send=counts.to_send, new=counts.new, in_flight=counts.in_flight,
                    already_sent=counts.already_sent, failed_before=counts.failed_before,
                    excluded=counts.excluded, changed=bool(run and run.digest and run.digest != digest),
                    retry_failed=retry_failed, concurrency=concurrency or SECTIONS["smtp"].default("concurrency"),
                    suppressions=suppressions, states=states, choices=choices, variants=variants, quiet=quiet,
                    from_signups=audience.from_signups, relays=relays, rehearsed=rehearsed)


def exclusion(plan: SendPlan, key: str) -> str | None:
    """Why this subscriber gets nothing this time (suppressed, or quiet), or None."""
    return _exclusion(plan.suppressions, plan.quiet, key)


def _exclusion(suppressions: dict[str, str], quiet: set[str], key: str) -> str | None:
    reason = suppressions.get(key)
    if reason == SuppressionReason.ERASED:
        return SuppressionReason.ERASED
    if reason:
        return f"suppressed ({reason})"
    return SkipReason.QUIET if key in quiet else None


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
        if state == RecipientState.SENT:
            already_sent += 1
        elif state == RecipientState.FAILED and not retry_failed:
            failed_before += 1
        elif reason:
            exclude(reason)
        elif state == RecipientState.SENDING:
            in_flight += 1
            to_send += 1
        else:
            to_send += 1
            new += state is None
    exclude(SkipReason.UNSUBSCRIBED_IN_LIST, len(subscribers.unsubscribed))
    exclude(DUPLICATE_ROW, len(subscribers.duplicates))
    exclude(INVALID_ROW, len(subscribers.invalid))
    if states:
        listed = {s.key for s in subscribers.subscribers} | {s.key for s in subscribers.unsubscribed}
        gone = sum(1 for key, state in states.items() if key not in listed and state in _WAITING)
        exclude(SkipReason.GONE, gone)
    return _Counts(to_send, new, in_flight, already_sent, failed_before, excluded)


def check_gate(result: BuildResult, *, force: bool, dry_run: bool = False,
               leaves_machine: bool = True, config: Config | None = None) -> list[Finding]:
    """Refuse to send an issue `newsletter check` finds errors in, unless forced.

    Warnings never stop a send. With `force` (and for a dry run, which sends nothing) the
    errors come back for the caller to show, and the send goes on. Placeholders
    (`placeholder` findings: TODO, boilerplate, and, given the `config`, settings and links
    still on example.org) stop a send only when the mail would leave this machine: a
    rehearsal into the outbox or a test relay on loopback shows them and goes on.
    """
    errors = [f for f in result.findings if f.severity == "error"]
    if leaves_machine and config is not None:  # the build lists these already when the config's relay is remote
        known = {(f.rule, f.where, f.message) for f in errors}
        errors += [f for f in example_placeholders(result.rendered.issue, config.path.name, _text_of(config.path))
                   if (f.rule, f.where, f.message) not in known]
    blocking = [f for f in errors if leaves_machine or f.rule not in LOCAL_ONLY_RULES]
    if not blocking or force or dry_run:
        return errors
    slug = result.rendered.issue.range.slug
    raise ErrorList([*(SendError(f"{f.rule}: {f.message}", path=f.where, hint=f.hint or None) for f in blocking),
                     SendError(f"not sending: `newsletter check` found {len(blocking)} "
                               f"error{'s' * (len(blocking) != 1)} in the issue",
                               hint=f"`newsletter check {slug}` lists them; fix them, or send anyway with --force")])


def _text_of(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
