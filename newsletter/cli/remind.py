"""`newsletter remind`: on `approval.remind_on`, mail the reviewers a test copy and the approval link."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.options import config_option, date_range, load, range_options
from newsletter.errors import ConfigError

__all__ = ["remind"]


@click.command()
@range_options
@config_option
@click.option("--now", "now", is_flag=True, help="Send the reminder today, whatever the day.")
def remind(month: str | None, since: str | None, until: str | None, config_path: Path, now: bool) -> None:
    """Remind the reviewers to approve the coming issue (run it daily; it acts on the day).

    On the day `approval.remind_on` names, the officer (reply_to, else from) and every
    address in `approval.approvers` get a note with a test copy of the coming issue
    (this month's, by default) and the link to the preview's Approve panel.

    \b
    Example:
      newsletter collect && newsletter remind      # daily, from cron or a timer
      newsletter remind 2023-08 --now              # today, for August's issue
    """
    import asyncio
    import datetime as dt

    from newsletter.config import zone_of
    from newsletter.send import build_checked, checked_audience, is_reminder_day, reviewers, send_reminder

    config = load(config_path)
    if config.approval.remind_on is None and not now:
        raise ConfigError("no reminder day set", path=config.path, field="approval.remind_on",
                          hint="add `approval: {remind_on: 25}` to the config, or pass --now")
    if not now and not is_reminder_day(config):
        click.echo(f"Not the reminder day (day {config.approval.remind_on} of the month): nothing sent.")
        return
    if month is None and since is None and until is None:
        month = dt.datetime.now(zone_of(config.timezone)).strftime("%Y-%m")  # the issue being gathered
    result = build_checked(config, date_range(month, since, until), checked_audience(config, config.subscribers_file),
                           write=False)
    addresses = reviewers(config)
    failed = asyncio.run(send_reminder(config, result, addresses))
    for problem in failed:
        click.echo(f"not delivered: {problem}", err=True)
    sent = [a for a in addresses if not any(p.startswith(a.lower()) for p in failed)]
    click.echo(f"Reminder for {result.rendered.issue.range.slug} sent to {', '.join(sent) or 'nobody'}"
               + (" (the local outbox: no mail left this machine)" if config.smtp is None else ""))
    if failed:
        raise SystemExit(3)
