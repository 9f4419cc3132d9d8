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
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, date_range, load, range_options
from newsletter.cli.wording import plural
from newsletter.errors import SendError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Task
    from rich.text import Text

    from newsletter.issue import Finding
    from newsletter.send import DryRunReport, SendPlan, SendReport

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
@click.option("--concurrency", type=click.IntRange(1, 64), help="SMTP connections at once (default: config, 4).")
@click.option("--strict", is_flag=True, help="Abort on any invalid subscriber row instead of skipping it.")
@click.option("--retry-failed", is_flag=True, help="Try recipients that failed (5xx) in an earlier attempt again.")
@click.option("--force", is_flag=True, help="Send even if `newsletter check` finds errors.")
def send(month: str | None, since: str | None, until: str | None, config_path: Path,
         subscribers_path: Path | None, yes: bool, dry_run: bool, test_addresses: tuple[str, ...],
         smtp_host: str | None, smtp_port: int | None, concurrency: int | None, strict: bool,
         retry_failed: bool, force: bool) -> None:
    """Send the issue for MONTH to every subscriber, exactly once; run it again to resume.

    Without an `smtp:` block (or --smtp-host) the mail goes through an embedded SMTP server
    on 127.0.0.1 into the Maildir outbox/ beside the config: no mail leaves the machine.

    \b
    Example:
      newsletter send 2023-07                      # asks before sending
      newsletter send 2023-07 --dry-run            # compose and check only
      newsletter send 2023-07 --test me@example.org
      newsletter send 2023-07 --yes --smtp-host 127.0.0.1 --smtp-port 2525
    """
    from rich.console import Console

    from newsletter.cli.secret import say_if_secret_made
    from newsletter.issue import build_checked
    from newsletter.send import check_gate, prepare_send, send_test
    from newsletter.send import dry_run as compose_all

    config = load(config_path)
    rng = date_range(month, since, until)
    say_if_secret_made(config)
    result = build_checked(config, rng, subscribers_path or config.subscribers_file)  # every version checked
    if test_addresses:
        addresses = [a.strip() for value in test_addresses for a in value.split(",") if a.strip()]
        report = send_test(config, result, addresses, smtp_host=smtp_host, smtp_port=smtp_port)
        _print_test(report)
        sys.exit(0 if report.all_sent else EXIT_INCOMPLETE)
    _warn_check_errors(check_gate(result, force=force, dry_run=dry_run), force=force)
    plan = prepare_send(config, result, subscribers_path or config.subscribers_file, strict=strict,
                        smtp_host=smtp_host, smtp_port=smtp_port, concurrency=concurrency,
                        retry_failed=retry_failed)
    out = Console(highlight=False, soft_wrap=True)
    _print_plan(out, plan)
    if dry_run:
        checked = compose_all(plan)
        _print_dry_run(out, checked)
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


def _warn_check_errors(errors: list[Finding], *, force: bool) -> None:
    """The check errors a forced send or a dry run goes on with, as warnings."""
    if not errors:
        return
    for f in errors:
        click.echo(f"warning: {f.where}: {f.rule}: {f.message}", err=True)
    click.echo(f"warning: {len(errors)} check error{'s' * (len(errors) != 1)} in the issue; "
               + ("sending anyway (--force)" if force else "a real send stops here without --force"), err=True)


def _confirm(plan: SendPlan, yes: bool) -> bool:
    """True to go on; a "no" is the officer's choice, not an error (exit 0, "Not sent.")."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise SendError("not sending without confirmation, and there is no terminal to ask on",
                        hint="add --yes to send, or --dry-run to check first")
    return click.confirm(f"Send {plan.build.rendered.subject!r} to {plural(plan.to_send, 'recipient')}?",
                         default=False)


def _print_plan(out: Console, plan: SendPlan) -> None:
    from newsletter.send import ROW_REASONS

    subject = plan.build.rendered.subject
    out.print(f"Issue {plan.slug}: {subject!r} ({plural(len(plan.build.rendered.issue.items), 'item')})")
    out.print(f"Subscribers: {plan.subscribers.path} ({plural(plan.subscribers.rows, 'row')})")
    for problem in plan.subscribers.invalid:
        out.print(f"  skipped line {problem.line}: {problem.reason} ({problem.value!r})")
    if plan.from_signups or plan.config.subscribe is not None:
        out.print(f"Sign-ups: {plan.from_signups} confirmed on the sign-up page and not in the CSV, "
                  "added to the list")
    _print_themes(out, plan)
    if plan.resuming:
        out.print(f"Resuming the run started {plan.run.created if plan.run else ''}: {plan.already_sent} "
                  f"already sent, {plan.failed_before} failed before"
                  + ("" if not plan.failed_before else " (--retry-failed tries them again)"))
    if plan.changed:
        out.print("warning: the issue has changed since this run started; the remaining recipients get the "
                  "new version")
    if plan.in_flight:
        out.print(f"{plural(plan.in_flight, 'recipient was')} in flight when the last run stopped: "
                  f"{'they are' if plan.in_flight != 1 else 'it is'} sent again and may get the issue twice")
    out.print(f"To send: {plan.to_send}" + (f" ({plan.new} new)" if plan.resuming else ""))
    for reason, count in sorted(plan.excluded.items()):
        out.print(f"  excluded: {plural(count, reason) if reason in ROW_REASONS else f'{count} {reason}'}")
    out.print(f"Through: {plan.transport_label}")
    if plan.transport is None:
        out.print("No smtp: block in the config, so an embedded SMTP server on 127.0.0.1 files every message "
                  "in outbox/.")


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
    columns = [TextColumn("Sending"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=False, refresh_per_second=4) as progress:
        task = progress.add_task("send", total=plan.to_send)

        def on_result(state: str) -> None:
            if state != "pending":
                progress.advance(task)

        return send_issue(plan, on_result=on_result, on_event=lambda message: progress.console.print(message))


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


def _print_dry_run(out: Console, report: DryRunReport) -> None:
    out.print(f"Dry run: composed {plural(report.messages, 'message')} in {report.seconds:.2f} s, "
              f"{report.total_bytes / 1024 / 1024:.1f} MB in all, largest {report.largest / 1024:.1f} KB, "
              f"longest line {report.longest_line} octets (limit 998). Nothing was sent or recorded.")
    for address in report.over_limit:
        out.print(f"error: the message to {address} has a line over 998 octets")


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


def _print_themes(out: Console, plan: SendPlan) -> None:
    """Theme choices (issue 9): unknown names in the CSV, versions rendered, quiet subscribers."""
    for problem in plan.choices.problems:
        out.print(f"  warning: {problem}: ignored, the row keeps its other themes (or gets every theme)")
    if plan.variants is None or all(selection is None for selection in plan.choices.selections):
        return  # nobody chose themes: everyone gets the whole issue
    variants, n = plan.variants, plan.choices.distinct
    versions = len({variants.key_of(selection) for selection in plan.choices.selections})  # sent this run
    out.print(f"Theme choices: {n} {'selection' if n == 1 else 'different selections'} ({plan.choices.from_page} "
              f"saved on the preferences page), {versions} {'version' if versions == 1 else 'versions'} of the issue")
    quiet = sum(1 for s in plan.subscribers.subscribers if plan.variants.is_quiet(s.themes))
    if quiet:
        one = quiet == 1
        what = (("gets" if one else "get") + " the quiet-month note" if plan.config.quiet_month
                else ("is" if one else "are") + " skipped (quiet month)")
        out.print(f"  {quiet} {'subscriber has' if one else 'subscribers have'} nothing new in their "
                  f"themes and {what}")
