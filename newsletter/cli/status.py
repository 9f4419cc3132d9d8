"""`newsletter status`: what the journal says about a send run (or every run)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, date_range, load, range_options
from newsletter.cli.wording import plural
from newsletter.errors import SendError

if TYPE_CHECKING:
    from rich.console import Console

    from newsletter import journal
    from newsletter.send import RunStatus

__all__ = ["status"]


@click.command()
@range_options
@config_option
@click.option("--failures-csv", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Also write the failed and deferred recipients (with the SMTP reply) to FILE.")
def status(month: str | None, since: str | None, until: str | None, config_path: Path,
           failures_csv: Path | None) -> None:
    """Show the send run for MONTH: recipients per state and every failure with its reply.

    Without MONTH, list every run in the state file.

    \b
    Example:
      newsletter status
      newsletter status 2023-07
      newsletter status 2023-07 --failures-csv failures.csv
    """
    from rich.console import Console

    from newsletter import journal

    config = load(config_path)
    out = Console(highlight=False, soft_wrap=True)
    if not config.state_file.exists():
        raise SendError("no state file yet: nothing has been sent", path=config.state_file,
                        hint="run `newsletter send` first")
    with contextlib.closing(journal.connect(config.state_file)) as db:
        if month is None and since is None and until is None:
            _all_runs(out, db)
            return
        slug = date_range(month, since, until).slug
        run = journal.get_run(db, slug)
        if run is None:
            raise SendError(f"no send run for {slug}", path=config.state_file,
                            hint="`newsletter status` without a month lists the runs")
        _one_run(out, db, run, failures_csv)


def _all_runs(out: Console, db: sqlite3.Connection) -> None:
    from newsletter import journal
    from newsletter.send import all_run_statuses

    statuses = all_run_statuses(db)
    if not statuses:
        out.print("No send runs yet.")
        return
    for status in statuses:
        run, counts = status.run, status.counts
        states = ", ".join(f"{counts[s]} {s}" for s in journal.RECIPIENT_STATES if counts[s])
        done = "finished" if run.finished else "not finished"
        out.print(f"{run.slug}: started {run.created[:16].replace('T', ' ')}, {done}: {states or 'no recipients'}"
                  + _bounces(status, ", bounces: "))


def _one_run(out: Console, db: sqlite3.Connection, run: journal.Run, failures_csv: Path | None) -> None:
    from rich.table import Table

    from newsletter import journal
    from newsletter.send import run_status, write_failures_csv

    status = run_status(db, run)
    counts = status.counts
    out.print(f"Issue {run.slug}: {run.subject!r}")
    out.print(f"Started {run.created}, last active {run.updated or run.created}, "
              + (f"finished {run.finished}" if run.finished else "not finished (run the same send command to resume)"))
    out.print(f"Subscribers: {run.subscribers}")
    table = Table(show_header=True)
    table.add_column("state")
    table.add_column("recipients", justify="right")
    for state in journal.RECIPIENT_STATES:
        table.add_row(state, str(counts[state]))
    table.add_row("possible duplicates", str(counts["possible_duplicates"]))
    out.print(table)
    out.print(f"Bounces: {_bounces(status) or 'none imported'} (`newsletter bounces import`)")
    for row in status.problems:
        out.print(f"{row.state}: {row.address}: {row.reply or '(no reply recorded)'}")
    if status.duplicates:
        out.print(f"Possible duplicates (in flight when a run stopped): {', '.join(status.duplicates)}")
    if failures_csv is not None:
        write_failures_csv(failures_csv, status.problems)
        out.print(f"Wrote {plural(len(status.problems), 'failed or deferred recipient')} to {failures_csv}")


def _bounces(status: RunStatus, prefix: str = "") -> str:
    """`2 hard, 1 soft`: addresses that bounced after the server accepted the message."""
    if not any(status.bounces.values()):
        return ""
    return f"{prefix}{status.bounces['hard']} hard, {status.bounces['soft']} soft"
