"""`newsletter send --at TIME`: wait, rebuild, and hand back a plan only if it is as approved.

The waiting process is an ordinary foreground process (no daemon, no fork), so it runs
the same under systemd, tmux, cron or a terminal; `send.py` sends the plan this returns.
Every refusal (missed time, changed build, failing checks, no approval) raises, after
mailing `approval.notify` when it lists addresses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from newsletter.errors import ErrorList, NewsletterError, SendError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.daterange import DateRange
    from newsletter.send import SendPlan

__all__ = ["require_approval", "wait_and_verify"]

EXIT_CANCELLED = 130


def wait_and_verify(config: Config, rng: DateRange, subscribers: Path, at: str, **options: Any) -> SendPlan:
    """Print when the issue goes, wait for it, rebuild; the plan when it still matches its approval."""
    from newsletter import journal
    from newsletter.cli.approve import approval_lines
    from newsletter.send import MissedSchedule, checked_plan, describe, lateness, parse_at, until_text, verify, wait_until

    when = parse_at(at, config.timezone)
    grace = dt.timedelta(minutes=config.approval.grace_minutes)
    slug = rng.slug
    try:
        lateness(when, grace)
    except MissedSchedule as exc:
        _refuse(config, slug, [str(exc)])
    click.echo(f"Issue {slug} goes at {describe(when, config.timezone)} ({until_text(when)}), "
               "if every version still matches its approval and the checks pass.")
    with contextlib.closing(journal.connect(config.state)) as db:
        approval = journal.latest_approval(db, slug)
    for line in approval_lines(config, approval) if approval else [f"Not approved yet: it will not go unless "
                                                                   f"`newsletter approve {slug}` is run first"]:
        click.echo(line)
    click.echo("Waiting; leave this running (Ctrl-C cancels, nothing is sent).")
    sys.stdout.flush()
    try:
        late = wait_until(when, grace)
    except MissedSchedule as exc:
        _refuse(config, slug, [str(exc)])
    except KeyboardInterrupt:
        click.echo("Cancelled: nothing was sent.")
        sys.exit(EXIT_CANCELLED)
    if late > dt.timedelta(minutes=1):
        click.echo(f"Woke {until_text(when + late, now=when)[3:]} late, within the grace window: sending now.")
    try:
        plan = checked_plan(config, rng, subscribers, **options)
    except NewsletterError as exc:  # an item broken since the approval: tell them too
        _refuse(config, slug, exc.lines())
    check = verify(plan)
    if not check.ok:
        _refuse(config, slug, check.problems())
    return plan


def require_approval(plan: SendPlan) -> None:
    """With `approval: {required: true}`, a manual send needs the build as approved."""
    from newsletter.send import verify

    check = verify(plan)
    if check.approval is None or check.changes:  # check errors: `check_gate` (and --force) decide
        raise ErrorList([*(SendError(p) for p in check.problems() if not p.startswith("check error: ")),
                         SendError(f"not sending {plan.slug}: the config requires an approved build "
                                   "(`approval: {required: true}`)",
                                   hint=f"review it, then `newsletter approve {plan.slug}` (a --test send "
                                        "needs no approval)")])


def _refuse(config: Config, slug: str, problems: list[str]) -> NoReturn:
    """Send nothing: tell the terminal (or the journal of systemd) and `approval.notify`."""
    import asyncio

    from newsletter.send import send_notice

    errors: list[NewsletterError] = [SendError(p) for p in problems]
    errors.append(SendError(f"scheduled send of {slug}: nothing was sent",
                            hint=f"check `newsletter preview {slug}`, approve it again if it is right"))
    notify = list(config.approval.notify)
    if notify:
        text = (f"The scheduled send of {config.name} {slug} did not go. Nothing was sent.\n\n"
                + "".join(f"- {p}\n" for p in problems)
                + f"\nReview it with `newsletter preview {slug}`; approve it again with "
                  f"`newsletter approve {slug}` if it is right, then send or schedule it again.\n")
        try:
            failed = asyncio.run(send_notice(config, notify, f"Not sent: {config.name} {slug}", text))
        except NewsletterError as exc:
            failed = [str(exc)]
        click.echo(f"Told {', '.join(notify)}" + (f" (not delivered: {'; '.join(failed)})" if failed else ""),
                   err=True)
    raise ErrorList(errors)
