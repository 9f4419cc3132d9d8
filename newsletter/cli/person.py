"""`newsletter person show|forget ADDR`: one person's data on request (GDPR articles 15 and 17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural

__all__ = ["person"]

_TITLES = {
    "signups": "Confirmed sign-up (what `send` uses)",
    "signup_requests": "Sign-up requests",
    "consent_events": "Consent history (confirmations, unsubscribes)",
    "preferences": "Topics chosen on the topics page",
    "language_choices": "Language chosen on the site",
    "suppressions": "Suppression",
    "recipients": "Sends",
    "bounces": "Bounces",
}
_subscribers_option = click.option("--subscribers", "subscribers", type=click.Path(path_type=Path), default=None,
                                   help="The subscriber CSV to look in (default: subscribers.csv beside the config).")


@click.group()
def person() -> None:
    """One person's data: what is held about an address, and erasing it.

    \b
    Example:
      newsletter person show pat@example.org            # "what do you hold about me?"
      newsletter person show pat@example.org --json > pat.json
      newsletter person forget pat@example.org          # "forget me"
    """


def _row(row: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in row.items() if value not in (None, ""))


@person.command("show")
@click.argument("address", metavar="ADDR")
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object (to hand over).")
@_subscribers_option
@config_option
def show(address: str, as_json: bool, subscribers: Path | None, config_path: Path) -> None:
    """Show everything held about ADDR: its rows in the subscriber CSV, its confirmed
    sign-up, topics, sign-up requests, consent history, sends, bounces and suppression.

    \b
    Example:
      newsletter person show pat@example.org --json > pat.json
    """
    from newsletter.audience import person_report

    report = person_report(load(config_path), address, subscribers=subscribers)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{report.email}: {plural(report.held, 'record')} held")
    if report.erased:
        click.echo("  erased before: its keyed hash is in the suppression list, so no send mails it")
    click.echo(f"Subscriber CSV: {'not listed' if not report.csv_rows else ''}")
    for row in report.csv_rows:
        click.echo(f"  {_row(row)}")
    for table, rows in report.records.items():
        click.echo(f"{_TITLES.get(table, table)}: {'none' if not rows else ''}")
        for row in rows:
            click.echo(f"  {_row({k: v for k, v in row.items() if k not in ('email', 'address')})}")


@person.command("forget")
@click.argument("address", metavar="ADDR")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_subscribers_option
@config_option
def forget(address: str, yes: bool, subscribers: Path | None, config_path: Path) -> None:
    """Erase ADDR from every table of the state file (sign-ups, consent history, topics,
    sends, bounces, suppressions) and keep only a keyed hash of it in the suppression
    list, so a later CSV or CRM import is never mailed to it (`send --dry-run` counts it
    as "erased"). The erasure is logged by its hash, never the address.

    \b
    Example:
      newsletter person forget pat@example.org --yes
    """
    from newsletter.audience import forget_person

    config = load(config_path)
    if not yes:
        click.confirm(f"Erase everything held about {address.strip()} from {config.state}?", abort=True)
    result = forget_person(config, address, subscribers=subscribers)
    click.echo(f"Erased: {plural(result.rows, 'row')} deleted; kept only its keyed hash ({result.erased_key[:15]}...) "
               "in the suppression list, so it is never mailed again")
    for line in result.csv_lines:
        click.echo(f"warning: {subscribers or config.subscribers_file}:{line}: still lists the address; "
                   "send skips it as erased, but remove the row to forget it there too", err=True)
