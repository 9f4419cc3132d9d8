"""`newsletter report`: an issue's reach, opt-outs, sign-ups and counted clicks, month by month."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, date_range, load, range_options
from newsletter.errors import SendError

if TYPE_CHECKING:
    from rich.console import Console

    from newsletter.send import IssueReport

__all__ = ["report"]


@click.command()
@range_options
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report(month: str | None, since: str | None, until: str | None, config_path: Path, as_json: bool) -> None:
    """Report on the issue for MONTH: delivered, bounced, unsubscribed, sign-ups, clicks.

    Clicks per item and theme need `tracking: {clicks: true}` in the config; counts of 1
    to 4 show as "fewer than 5". Below the issue, every issue sent, month by month.

    \b
    Example:
      newsletter report 2023-07
      newsletter report 2023-07 --json > report.json
    """
    from rich.console import Console

    from newsletter import journal
    from newsletter.send import issue_report

    config = load(config_path)
    if not config.state_file.exists():
        raise SendError("no state file yet: nothing has been sent", path=config.state_file,
                        hint="run `newsletter send` first")
    with contextlib.closing(journal.connect(config.state_file)) as db:
        found = issue_report(config, db, date_range(month, since, until))
    if as_json:
        click.echo(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
        return
    _print(Console(highlight=False, soft_wrap=True), found)


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def _print(out: Console, found: IssueReport) -> None:
    from rich.table import Table

    from newsletter.send import shown

    n = found.numbers
    out.print(f"Issue {n.slug}, sent {n.sent[:16].replace('T', ' ')} UTC")
    out.print(f"List {n.list_size}: delivered {n.delivered}, deferred {n.deferred}, failed {n.failed}, "
              f"bounced {n.bounced}, complained {n.complained}")
    out.print(f"Unsubscribed after this issue: {n.unsubscribed}; sign-ups since the last one: {n.signups}")
    if not found.tracking and not n.clicks:
        out.print("Clicks: not counted (`tracking: {clicks: true}` in the config counts them, anonymously)")
    else:
        themes = Table(title="Clicks per theme", title_justify="left")
        for column in ("theme", "items", "share of the issue", "clicks", "share of the clicks"):
            themes.add_column(column, justify="left" if column == "theme" else "right")
        for t in found.themes:
            themes.add_row(t.theme, str(t.items), _percent(t.issue_share), shown(t.clicks), _percent(t.click_share))
        out.print(themes)
        items = Table(title="Clicks per item", title_justify="left")
        for column in ("item", "theme", "clicks"):
            items.add_column(column, justify="right" if column == "clicks" else "left")
        for i in found.items:
            items.add_row(i.title, i.theme, shown(i.clicks))
        out.print(items)
        if found.other_clicks:
            out.print(f"Clicks on links no current item has (edited since): {shown(found.other_clicks)}")
    history = Table(title="Month by month", title_justify="left")
    for column in ("issue", "list", "delivered", "bounced", "unsubscribed", "sign-ups", "clicks per 100 delivered"):
        history.add_column(column, justify="left" if column == "issue" else "right")
    for h in found.history:
        history.add_row(h.slug, str(h.list_size), str(h.delivered), _percent(h.rate(h.bounced)),
                        _percent(h.rate(h.unsubscribed)), str(h.signups),
                        f"{h.rate(h.clicks) * 100:.0f}" if h.clicks >= 5 or not h.clicks else "fewer than 5 clicks")
    out.print(history)
