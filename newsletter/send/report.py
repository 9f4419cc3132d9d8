"""What a send did: the counts and failures behind the summary table and the exit status.

Filled in by the run (run.py), its journal job source (jobs.py) and test sends
(testsend.py); printed by the CLI. `write_failures_csv` puts the recipients not sent
where a spreadsheet can open them (also used by `status`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from newsletter import journal
from newsletter.audience import RowProblem
from newsletter.files import atomic_write, safe_cell

__all__ = [
    "DryRunReport", "FailedRecipient", "RunStatus", "SendReport", "all_run_statuses", "run_status", "write_failures_csv",
    "write_row_problems",
]


@dataclass(frozen=True)
class FailedRecipient:
    """One recipient the send did not reach, with the server's last word on it."""

    email: str
    name: str
    state: str  # failed | deferred
    reply: str


@dataclass
class SendReport:
    """What a run (or a test send) did, for the summary table and the exit status."""

    slug: str
    transport: str
    outbox: Path | None = None  # set when the embedded outbox was used
    test: bool = False
    requested: int = 0  # a test send: the distinct addresses asked for
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    quiet: int = 0  # of the skipped: nothing in their chosen themes this time (issue 9)
    suppressed: int = 0  # hard bounces added to the suppression list during this run
    possible_duplicates: int = 0  # resent after a crash, or connection lost mid-message
    already_sent: int = 0
    unsubscribed_during_run: int = 0  # suppressed after the run was planned: skipped when claimed
    recipient_deferrals: int = 0  # 4xx about one recipient (greylisting, full mailbox), retried later
    slowdowns: Counter[str] = field(default_factory=Counter)  # why the pace was lowered, how often
    lowest_rate: float | None = None  # the lowest pace the run fell to, msgs/s
    remaining: int = 0  # still pending (the run stopped early)
    stopped: str | None = None
    fatal: bool = False
    interrupted: bool = False
    aborted: bool = False  # a second Ctrl-C: what was in flight is left for the next run to report
    elapsed: float = 0.0
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def all_sent(self) -> bool:
        """A test send reached every address asked for."""
        return self.sent == self.requested
    failures: list[FailedRecipient] = field(default_factory=list)
    failures_csv: Path | None = None
    failures_csv_error: str = ""  # why failures.csv could not be written (a full or read-only disk)

    @property
    def complete(self) -> bool:
        """Nothing left to do: every recipient is sent, failed or skipped."""
        return not (self.stopped or self.interrupted or self.deferred or self.remaining)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def __str__(self) -> str:
        parts = [f"{self.sent} sent"]
        parts += [f"{n} {label}" for n, label in ((self.deferred, "deferred"), (self.failed, "failed")) if n]
        where = "into the local outbox (no mail left this machine)" if self.outbox else f"via {self.transport}"
        text = f"{', '.join(parts)} {where}"
        if self.failures:
            text += "; " + "; ".join(f"{f.email}: {f.reply}" for f in self.failures[:3])
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


@dataclass
class DryRunReport:
    """What composing every message without sending found: sizes, and any line SMTP would refuse."""

    messages: int = 0
    total_bytes: int = 0
    largest: int = 0
    longest_line: int = 0
    seconds: float = 0.0
    over_limit: list[str] = field(default_factory=list)  # addresses whose message has a line over 998


def write_row_problems(path: Path, invalid: Iterable[RowProblem], duplicates: Iterable[RowProblem]) -> int:
    """line,problem,value,reason: every CSV row a send skips, for fixing the list in a
    spreadsheet (the terminal shows the first few). Returns how many rows it lists."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["line", "problem", "value", "reason"])
    count = 0
    for kind, rows in (("invalid", invalid), ("duplicate", duplicates)):
        for row in sorted(rows, key=lambda r: r.line):
            writer.writerow([row.line, kind, safe_cell(row.value), safe_cell(row.reason)])
            count += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.getvalue(), mode=0o600)  # addresses: people's data
    return count


def write_failures_csv(path: Path, rows: list[journal.RecipientRow]) -> None:
    """email,name,state,attempts,reply: the recipients not sent, for a spreadsheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["email", "name", "state", "attempts", "reply"])
    for row in rows:
        writer.writerow([safe_cell(v) for v in (row.email, row.name, row.state, row.attempts, row.reply)])
    atomic_write(path, text.getvalue(), mode=0o600)  # addresses: private like the state


@dataclass(frozen=True)
class RunStatus:
    """What the journal says about one run, for `newsletter status`."""

    run: journal.Run
    counts: dict[str, int]  # recipients per state, and "possible_duplicates"
    bounces: dict[str, int]  # "hard" and "soft" bounces imported for the run
    problems: list[journal.RecipientRow]  # failed and deferred recipients, with the last reply
    duplicates: list[str]  # addresses possibly sent twice (in flight when a run stopped)


def run_status(db: journal.Db, run: journal.Run) -> RunStatus:
    counts = journal.run_counts(db, run.id)
    duplicates = ([r.email for r in journal.run_recipients(db, run.id) if r.possible_duplicate]
                  if counts["possible_duplicates"] else [])
    return RunStatus(run, counts, journal.bounce_counts(db, run.id),
                     journal.run_recipients(db, run.id, (journal.RecipientState.FAILED, journal.RecipientState.DEFERRED)),
                     duplicates)


def all_run_statuses(db: journal.Db) -> list[RunStatus]:
    return [run_status(db, run) for run in journal.list_runs(db)]
