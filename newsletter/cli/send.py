"""`newsletter send`: build the issue, show who gets it, confirm, send with a progress bar.

Exit status: 0 when every recipient is sent, failed or skipped, and when you answer "no"
to the confirmation ("Not sent."); 1 for a user error
(including a relay that refuses the login or the sender); 3 when the run stopped early
or some recipients are deferred (run the same command again to resume); 130 after Ctrl-C.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsletter.cli.options import config_option, issue_range, load, range_options
from newsletter.cli.sendplan import dry_run_json, print_dry_run, print_plan, write_skipped_rows
from newsletter.cli.wording import plural
from newsletter.errors import NewsletterError, SendError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Task
    from rich.text import Text

    from newsletter.audience import Audience
    from newsletter.config import Config
    from newsletter.daterange import DateRange
    from newsletter.issue import Finding
    from newsletter.send import SendPlan, SendReport

__all__ = ["EXIT_INCOMPLETE", "EXIT_INTERRUPTED", "send", "send_with_progress"]

EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


@click.command()
@range_options
@config_option
@click.option("--subscribers", "subscribers_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The subscriber CSV (default: subscribers.csv beside the config).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option("--dry-run", is_flag=True, help="Compose and check every message; connect to nothing, record nothing.")
@click.option("--test", "test_addresses", metavar="ADDR[,ADDR...]", multiple=True,
              help='Send only to these addresses, subject prefixed "[TEST]"; the run\'s records are left alone.')
@click.option("--smtp-host", metavar="HOST", help="Send through this SMTP server instead of the config's.")
@click.option("--smtp-port", metavar="PORT", type=click.IntRange(1, 65535), help="Port of the SMTP server.")
@click.option("--concurrency", type=click.IntRange(1, 64),
              help="SMTP connections at once (default: the config's smtp.concurrency).")
@click.option("--strict", is_flag=True, help="Abort on any invalid subscriber row instead of skipping it.")
@click.option("--retry-failed", is_flag=True, help="Try recipients that failed (5xx) in an earlier attempt again.")
@click.option("--force", is_flag=True, help="Send even if `newsletter check` finds errors.")
@click.option("--json", "as_json", is_flag=True,
              help="With --dry-run: the plan as one JSON object, for scripts (docs: JSON output).")
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM"',
              help="Wait until then (the config's timezone), rebuild, and send only the approved build.")
def send(month: str | None, since: str | None, until: str | None, config_path: Path,
         subscribers_path: Path | None, yes: bool, dry_run: bool, test_addresses: tuple[str, ...],
         smtp_host: str | None, smtp_port: int | None, concurrency: int | None, strict: bool,
         retry_failed: bool, force: bool, as_json: bool, at: str | None) -> None:
    """Send the issue for MONTH to every subscriber, exactly once; run it again to resume.

    Without an `smtp:` block (or --smtp-host) the mail goes through an embedded SMTP server
    on 127.0.0.1 into the Maildir outbox/ beside the config: no mail leaves the machine.

    \b
    Example:
      newsletter send 2023-07                      # asks before sending
      newsletter send 2023-07 --dry-run            # compose and check only
      newsletter send 2023-07 --test me@example.org
      newsletter send 2023-07 --yes --smtp-host 127.0.0.1 --smtp-port 2525
      newsletter send 2023-07 --at "2023-08-01 09:00"   # as approved, at 9:00
    """
    from rich.console import Console

    from newsletter.cli.secret import say_if_secret_made
    from newsletter.send import build_checked, check_gate, leaves_machine, prepare_send, send_test
    from newsletter.send import dry_run as compose_all

    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run (a real send reports with `newsletter status --json`)")
    config = load(config_path)
    rng = issue_range(config, month, since, until)
    say_if_secret_made(config)
    if at is not None:
        if test_addresses or dry_run or force:
            raise click.UsageError("--at sends the approved build: it does not go with --test, --dry-run or --force")
        _send_at(config, rng, subscribers_path or config.subscribers_file, at, strict=strict, smtp_host=smtp_host,
                 smtp_port=smtp_port, concurrency=concurrency, retry_failed=retry_failed)
    audience, unreadable = _audience(config, subscribers_path or config.subscribers_file, strict=strict)
    result = build_checked(config, rng, audience)  # every version this audience receives, checked
    if test_addresses:
        addresses = [a.strip() for value in test_addresses for a in value.split(",") if a.strip()]
        report = send_test(config, result, addresses, smtp_host=smtp_host, smtp_port=smtp_port)
        _print_test(report)
        sys.exit(0 if report.all_sent else EXIT_INCOMPLETE)
    leaves = leaves_machine(config, host=smtp_host)
    _warn_check_errors(check_gate(result, force=force, dry_run=dry_run, leaves_machine=leaves, config=config),
                       force=force, leaves_machine=leaves)
    if audience is None:
        raise unreadable or SendError("no subscriber list", hint="pass --subscribers FILE")
    plan = prepare_send(config, result, audience, smtp_host=smtp_host, smtp_port=smtp_port,
                        concurrency=concurrency, retry_failed=retry_failed, log_in=not dry_run)
    out = Console(highlight=False, soft_wrap=True)
    rows_file = write_skipped_rows(plan)
    if as_json:
        checked = compose_all(plan)
        click.echo(dry_run_json(plan, checked, rows_file))
        sys.exit(1 if checked.over_limit else 0)
    print_plan(out, plan, rows_file)
    if config.approval.required and not dry_run:
        from newsletter.cli.scheduled import require_approval

        require_approval(plan)
    if dry_run:
        checked = compose_all(plan)
        print_dry_run(out, checked)
        sys.exit(1 if checked.over_limit else 0)
    if plan.to_send == 0:
        out.print("Nothing to send.")
        return
    if not _confirm(plan, yes):
        out.print("Not sent.")
        return
    report = send_with_progress(plan)
    _print_report(out, plan, report)
    sys.exit(_exit_code(report))


def _send_at(config: Config, rng: DateRange, subscribers: Path, at: str, **options: Any) -> None:
    """The scheduled send: wait, rebuild, verify against the approval, send; exits."""
    from rich.console import Console

    from newsletter.cli.scheduled import wait_and_verify

    plan = wait_and_verify(config, rng, subscribers, at, **options)
    out = Console(highlight=False, soft_wrap=True)
    print_plan(out, plan)
    if plan.to_send == 0:
        out.print("Nothing to send: every recipient has been handled (a schedule never sends twice).")
        sys.exit(0)
    report = send_with_progress(plan)
    _print_report(out, plan, report)
    sys.exit(_exit_code(report))


def _audience(config: Config, path: Path, *, strict: bool) -> tuple[Audience | None, NewsletterError | None]:
    """The list read and resolved once for the whole command, or the error that stops a real
    send; the error waits until after the checks, which a test send or a broken list
    does not stop."""
    import contextlib

    from newsletter import journal
    from newsletter.audience import resolve

    try:
        with contextlib.closing(journal.connect(config.state)) as db:
            return resolve(config, path, db, strict=strict), None
    except NewsletterError as exc:
        return None, exc


def _warn_check_errors(errors: list[Finding], *, force: bool, leaves_machine: bool = True) -> None:
    """The check errors a forced send, a dry run or a rehearsal goes on with, as warnings."""
    from newsletter.send import LOCAL_ONLY_RULES

    if not errors:
        return
    for f in errors:
        click.echo(f"warning: {f.where}: {f.rule}: {f.message}", err=True)
    if not leaves_machine and all(f.rule in LOCAL_ONLY_RULES for f in errors) and not force:
        click.echo(f"warning: {len(errors)} placeholder{'s' * (len(errors) != 1)} in the issue; fine for a "
                   "rehearsal on this machine, but a send through your relay stops here until they are replaced",
                   err=True)
        return
    click.echo(f"warning: {len(errors)} check error{'s' * (len(errors) != 1)} in the issue; "
               + ("sending anyway (--force)" if force else "a real send stops here without --force"), err=True)


def _confirm(plan: SendPlan, yes: bool) -> bool:
    """True to go on; a "no" is the officer's choice, not an error (exit 0, "Not sent.")."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise SendError("not sending without confirmation, and there is no terminal to ask on",
                        hint="add --yes to send, or --dry-run to check first")
    if plan.rehearsal:
        question = (f"Rehearse: file {plan.build.rendered.subject!r} for {plural(plan.to_send, 'recipient')} "
                    "in the local outbox?")
    else:
        question = (f"Send {plan.build.rendered.subject!r} to {plural(plan.to_send, 'recipient')} "
                    f"through {plan.transport_label}?")
    return click.confirm(question, default=False)


def send_with_progress(plan: SendPlan) -> SendReport:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from newsletter.send import send_issue

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} msgs/s" if speed else "- msgs/s")

    err = Console(stderr=True, highlight=False)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=False, refresh_per_second=4) as progress:
        doing = "Rehearsing" if plan.rehearsal else "Sending"
        task = progress.add_task(doing, total=plan.to_send)

        def on_result(state: str) -> None:
            if state != "pending":
                progress.advance(task)

        def on_wait(what: str) -> None:  # a relay slow to answer: say what for, not a frozen 0/N
            progress.update(task, description=f"{doing} ({what})" if what else doing)

        return send_issue(plan, on_result=on_result, on_event=lambda message: progress.console.print(message),
                          on_wait=on_wait)


def _resume_command() -> str:
    args = [a for a in sys.argv[1:] if a != "--retry-failed"]
    return "newsletter " + shlex.join(args)


def _print_report(out: Console, plan: SendPlan, report: SendReport) -> None:
    from rich.table import Table

    if report.fatal and not (report.sent or report.failed or report.deferred):
        click.echo(f"error: {report.stopped}", err=True)  # a configuration error: that line says it all
        out.print(f"Nothing was sent. Once that is fixed, resume with: {_resume_command()}")
        return

    table = Table(title=f"Issue {report.slug}", show_header=True)
    table.add_column("", style="bold")
    table.add_column("this run", justify="right")
    table.add_column("all runs", justify="right")
    totals = report.totals
    rows = [("sent", report.sent, totals.get("sent", 0)), ("deferred", report.deferred, totals.get("deferred", 0)),
            ("failed", report.failed, totals.get("failed", 0)), ("skipped", plan.skipped, totals.get("skipped", 0)),
            ("possible duplicates", report.possible_duplicates, totals.get("possible_duplicates", 0))]
    if report.remaining:
        rows.append(("not yet sent", report.remaining, report.remaining))
    for label, this_run, total in rows:
        table.add_row(label, str(this_run), str(total))
    out.print(table)
    if report.elapsed:
        out.print(f"{report.sent} sent in {report.elapsed:.1f} s ({report.rate:,.0f} msgs/s)")
    if report.quiet:
        out.print(f"{report.quiet} skipped as a quiet month: nothing new in the themes they chose "
                  "(set `quiet_month:` in the config to send them a short note instead)")
    _print_integrity(out, report)
    if report.suppressed:
        out.print(f"{plural(report.suppressed, 'address')} refused permanently (550/551/553) were added to the "
                  "suppression list")
    if report.possible_duplicates:
        out.print(f"{plural(report.possible_duplicates, 'recipient')} may have received the issue twice (in flight when "
                  "a run stopped); `newsletter status` lists them")
    if report.failures_csv:
        out.print(f"Not sent (failed or deferred): {len(report.failures)}, listed in {report.failures_csv}")
    elif report.failures_csv_error:
        click.echo(f"warning: {report.failures_csv_error} (`newsletter status --failures-csv FILE` writes "
                   "the list elsewhere)", err=True)
    if report.outbox is not None:
        out.print(f"No mail left this machine: the messages are in {report.outbox}/new/")
    if report.fatal:
        click.echo(f"error: {report.stopped}", err=True)
    elif report.stopped:
        out.print(f"Stopped: {report.stopped}")
    elif report.aborted:
        in_flight = report.totals.get("sending", 0)
        out.print(f"Stopped at once: {plural(in_flight, 'message')} in flight {'is' if in_flight == 1 else 'are'} "
                  "not recorded; "
                  "the next run sends them again and reports them as possible duplicates.")
    elif report.interrupted:
        out.print("Interrupted: the messages in flight were finished and recorded.")
    if not report.complete:
        out.print(f"To resume: {_resume_command()}")


def _print_integrity(out: Console, report: SendReport) -> None:
    """Opt-outs honoured mid-run, recipients that had to wait, and why the pace slowed."""
    if report.unsubscribed_during_run:
        out.print(f"{report.unsubscribed_during_run} unsubscribed during the run: skipped, not mailed")
    if report.recipient_deferrals:
        out.print(f"{report.recipient_deferrals} temporary refusals of single recipients (greylisting, full "
                  "mailbox) were retried after their own wait; the pace was not lowered for them")
    if report.slowdowns:
        reasons = ", ".join(f"{reason} ({n}×)" for reason, n in report.slowdowns.most_common())
        lowest = f"; lowest pace {report.lowest_rate:.1f} msgs/s" if report.lowest_rate else ""
        out.print(f"Slowed down {sum(report.slowdowns.values())} times at the server's request: {reasons}{lowest}")


def _exit_code(report: SendReport) -> int:
    if report.complete:
        return 0
    if report.fatal:
        return 1
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_INCOMPLETE


def _print_test(report: SendReport) -> None:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    where = "the local outbox (no mail left this machine)" if report.outbox else report.transport
    out.print(f"Test of issue {report.slug}: {report.sent} sent through {where}")
    for failure in report.failures:
        out.print(f"  {failure.state}: {failure.email}: {failure.reply}")
    if report.stopped:
        out.print(f"{'error' if report.fatal else 'Stopped'}: {report.stopped}")
    if report.outbox is not None:
        out.print(f"Open {report.outbox}/new/ (or `newsletter preview`, Outbox) to look at it.")
