"""`newsletter status`: what the journal says about a send run (or every run)."""

from __future__ import annotations

import contextlib
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts and monitoring (docs: JSON output).")
def status(month: str | None, since: str | None, until: str | None, config_path: Path,
           failures_csv: Path | None, as_json: bool) -> None:
    """Show the send run for MONTH: recipients per state and every failure with its reply.

    The real run (through a relay) and the rehearsal (into the local outbox) are shown
    apart; a rehearsal never counts anyone as sent. Without MONTH, list every run.

    \b
    Example:
      newsletter status
      newsletter status 2023-07
      newsletter status 2023-07 --failures-csv failures.csv
      newsletter status 2023-07 --json
    """
    from rich.console import Console

    from newsletter import journal

    config = load(config_path)
    out = Console(highlight=False, soft_wrap=True)
    if not journal.exists(config.state):
        raise SendError("no state file yet: nothing has been sent", path=str(config.state),
                        hint="run `newsletter send` first")
    with contextlib.closing(journal.connect(config.state)) as db:
        if month is None and since is None and until is None:
            if as_json:
                _print_json(db, journal.list_runs(db), detail=False)
                return
            _all_runs(out, db)
            return
        slug = date_range(month, since, until).slug
        real, rehearsal = journal.get_run(db, slug), journal.get_run(db, slug, journal.RunKind.REHEARSAL)
        run = real or rehearsal
        approval = journal.latest_approval(db, slug)
        if as_json:
            if run is None and approval is None:
                raise SendError(f"no send run for {slug}", path=str(config.state),
                                hint="`newsletter status` without a month lists the runs")
            _print_json(db, [r for r in (real, rehearsal) if r is not None], detail=True,
                        approval={"by": approval.approved_by, "at": approval.approved} if approval else None)
            if failures_csv is not None and run is not None:
                from newsletter.send import run_status, write_failures_csv

                write_failures_csv(failures_csv, run_status(db, run).problems)
            return
        if approval is not None:
            from newsletter.cli.approve import approval_lines

            for line in approval_lines(config, approval):
                out.print(line)
        else:
            out.print(f"Not approved ({slug}): `newsletter approve {slug}` or Approve in the preview")
        if run is None and approval is not None:
            out.print(f"No send run for {slug} yet.")
            return
        if run is None:
            raise SendError(f"no send run for {slug}", path=str(config.state),
                            hint="`newsletter status` without a month lists the runs")
        _one_run(out, db, run, failures_csv)
        if real is None:
            out.print("No real send yet: this was a rehearsal into the local outbox; sending through a relay "
                      "sends to everyone.")
        elif rehearsal is not None:
            counts = journal.run_counts(db, rehearsal.id)
            out.print(f"Also rehearsed {rehearsal.created[:16].replace('T', ' ')}: {counts['sent']} filed in the "
                      "local outbox (a rehearsal counts nobody as sent)")


def _print_json(db: journal.Db, runs: list[journal.Run], *, detail: bool,
                approval: dict[str, str] | None = None) -> None:
    """`{"runs": [...]}`, one object per run (docs/reference/json.md); with `detail` (one
    issue), the failed and deferred recipients, possible duplicates, the relays that
    accepted, and the issue's approval (`{"by", "at"}` or null)."""
    import json

    from newsletter import journal
    from newsletter.send import run_status

    objects = []
    for run in runs:
        status = run_status(db, run)
        counts = {state: status.counts[state] for state in journal.RECIPIENT_STATES}
        entry: dict[str, object] = {
            "issue": run.slug, "kind": str(run.kind), "subject": run.subject, "started": run.created,
            "updated": run.updated or run.created, "finished": run.finished, "counts": counts,
            "possible_duplicates": status.counts["possible_duplicates"], "bounces": dict(status.bounces)}
        if detail:
            entry["problems"] = [{"state": str(row.state), "address": row.email, "reply": row.reply}
                                 for row in status.problems]
            entry["duplicates"] = list(status.duplicates)
            entry["accepted_by"] = {relay or "": n for relay, n in journal.relay_counts(db, run.id).items()}
        objects.append(entry)
    document: dict[str, object] = {"runs": objects}
    if detail:
        document["approval"] = approval
    click.echo(json.dumps(document, indent=2))


def _all_runs(out: Console, db: journal.Db) -> None:
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
        name = f"{run.slug} (rehearsal)" if run.rehearsal else run.slug
        out.print(f"{name}: started {run.created[:16].replace('T', ' ')}, {done}: {states or 'no recipients'}"
                  + _bounces(status, ", bounces: "))


def _one_run(out: Console, db: journal.Db, run: journal.Run, failures_csv: Path | None) -> None:
    from rich.table import Table

    from newsletter import journal
    from newsletter.send import run_status, write_failures_csv

    status = run_status(db, run)
    counts = status.counts
    kind = "rehearsal into the local outbox" if run.rehearsal else "real send"
    out.print(f"Issue {run.slug}: {run.subject!r} ({kind})")
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
    relays = journal.relay_counts(db, run.id)
    if relays and not run.rehearsal:
        out.print("Accepted by: " + ", ".join(f"{relay or 'a relay not recorded'} ({n})" for relay, n in relays.items()))
    out.print(f"Bounces: {_bounces(status) or 'none imported'} (`newsletter bounces import`)")
    for row in status.problems:
        out.print(f"{row.state}: {row.email}: {row.reply or '(no reply recorded)'}")
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
