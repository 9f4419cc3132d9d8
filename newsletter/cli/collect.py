"""`newsletter collect`: feeds and spreadsheets into item files; prints what happened."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, date_range, load

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from newsletter.collect import CollectReport, SourceReport


DEFAULT_TIMEOUT = 20.0  # seconds for each feed; collect has no default of its own
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def _split(args: tuple[str, ...]) -> tuple[list[str], str | None]:
    """SOURCE... and an optional YYYY-MM among them (a file named like a month stays a file)."""
    months = [a for a in args if _MONTH.match(a) and not Path(a).exists()]
    if len(months) > 1:
        raise click.UsageError(f"give one month, not {len(months)}: {' '.join(months)}")
    return [a for a in args if a not in months], (months[0] if months else None)


def _status(report: SourceReport) -> Text:
    from rich.text import Text

    if report.error is not None:
        return Text(f"failed: {report.error.message}", style="red")
    parts = ["unchanged (304)" if report.not_modified else "ok"]
    if report.warning:
        parts.append("feed has errors")
    if report.problems:
        parts.append(f"{len(report.problems)} left out")
    return Text(", ".join(parts), style="yellow" if len(parts) > 1 else "green")


def _table(report: CollectReport) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{'Dry run: ' if report.dry_run else ''}collected {report.range.label}",
                  title_justify="left")
    table.add_column("Source", overflow="fold")
    table.add_column("New", justify="right")
    table.add_column("Known", justify="right")
    table.add_column("Outside range", justify="right")
    table.add_column("Status", overflow="fold")
    for source in report.sources:
        table.add_row(Text(source.label), str(len(source.new)), str(source.known), str(source.outside),
                      _status(source))
    return table


def _print_report(report: CollectReport, console: Console, root: Path) -> None:
    from rich.text import Text

    console.print(_table(report))
    for source in report.sources:
        for problem in ([source.error] if source.error else []) + source.problems:
            for line in problem.lines():
                click.echo(f"error: {line}", err=True)
        if source.warning:
            click.echo(f"warning: {source.source.location}: {source.warning}", err=True)
    new = report.new
    for item in new:
        theme = item.item.theme or "needs a theme"
        console.print(Text(f"{'would write' if report.dry_run else 'new'}  {_shown(item.path, root)}  ({theme})"))
        for note in item.notes:
            console.print(Text(f"      check: {note}"))
    if report.needs_theme:
        console.print(Text(f"Needs a theme ({len(report.needs_theme)}): set `theme:` in each file; "
                           "`newsletter build` names them until you do:", style="bold"))
        for item in report.needs_theme:
            console.print(Text(f"  {_shown(item.path, root)}:{item.theme_line}  {item.item.title}"))
    files = f"{len(new)} new item file{'s' if len(new) != 1 else ''}"
    console.print(f"Dry run: {files} would be written; nothing was." if report.dry_run
                  else f"Wrote {files} into {_shown(root / 'items', root)}/.")


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@click.command("collect")
@click.argument("args", nargs=-1, metavar="[SOURCE...] [YYYY-MM]")
@click.option("--since", metavar="YYYY-MM-DD", help="First day to include (inclusive).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last day to include (inclusive).")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="Give up on a source after this long.")
@config_option
def collect_command(args: tuple[str, ...], since: str | None, until: str | None, dry_run: bool,
                    timeout: float, config_path: Path) -> None:
    """Turn feed entries and spreadsheet rows dated in MONTH (default: last full month)
    into item files in items/, skipping anything collected before.

    SOURCE is an http(s) feed URL, a feed file or a .csv spreadsheet; without one, the
    `sources:` in the config are read.

    \b
    Example:
      newsletter collect 2023-07
      newsletter collect https://example.org/news/feed.xml --since 2023-07-01
      newsletter collect july-items.csv 2023-07 --dry-run
    """
    from rich.console import Console

    from newsletter.collect import collect

    sources, month = _split(args)
    config = load(config_path)
    report = collect(config, sources, date_range(month, since, until), dry_run=dry_run, timeout=timeout,
                     progress=lambda line: click.echo(line, err=True))
    _print_report(report, Console(highlight=False, soft_wrap=True), config.root)
    if report.all_failed:
        raise click.exceptions.Exit(1)

