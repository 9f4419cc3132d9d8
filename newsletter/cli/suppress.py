"""`newsletter suppress add|remove|list|import|export`: the addresses `send` never mails."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural
from newsletter.errors import ErrorList

if TYPE_CHECKING:
    from newsletter import journal
    from newsletter.audience import SuppressResult

__all__ = ["suppress"]

_reason_option = click.option("--reason", default="unsubscribed", show_default=True,
                              help="Why, as stored and shown by `suppress list` (e.g. complaint).")


@click.group()
def suppress() -> None:
    """The suppression list: addresses `send` never mails, whatever the subscriber CSV says.

    One-click and web unsubscribes and hard bounces land here by themselves; these
    commands record the rest and exchange the list with a CRM.

    \b
    Example:
      newsletter suppress add someone@example.org     # asked by email to unsubscribe
      newsletter suppress import crm-optouts.csv
      newsletter suppress export --out suppressed.csv
    """


def _open(config_path: Path) -> journal.Db:
    from newsletter import journal

    return journal.connect(load(config_path).state)


def _report(result: SuppressResult, what: str) -> None:
    click.echo(f"{what}: {len(result.added)} added, {len(result.already)} already suppressed")
    if result.problems:
        raise ErrorList(result.problems)


@suppress.command("add")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...")
@_reason_option
@config_option
def add(addresses: tuple[str, ...], reason: str, config_path: Path) -> None:
    """Suppress the given addresses (source `mailto`: unsubscribes that arrived by email).

    \b
    Example:
      newsletter suppress add someone@example.org other@example.net
    """
    from newsletter.audience import suppress_addresses

    db = _open(config_path)
    result = suppress_addresses(db, [(None, a) for a in addresses], reason=reason, source="mailto")
    for email in result.added:
        click.echo(f"suppressed {email}")
    for email in result.already:
        click.echo(f"already suppressed {email}")
    if result.problems:
        raise ErrorList(result.problems)


@suppress.command("remove")
@click.argument("addresses", nargs=-1, required=True, metavar="ADDR...")
@config_option
def remove(addresses: tuple[str, ...], config_path: Path) -> None:
    """Take addresses off the list, so `send` mails them again (they asked to come back).

    \b
    Example:
      newsletter suppress remove someone@example.org
    """
    from newsletter import journal

    db = _open(config_path)
    for address in addresses:
        email = _normalised(address)
        if journal.unsuppress(db, email):
            click.echo(f"removed {email}")
        else:
            click.echo(f"not on the list: {email}")


def _normalised(address: str) -> str:
    from newsletter.addresses import address_key, checked_key

    try:
        return checked_key(address)
    except ValueError:
        return address_key(address)  # still lets a malformed stored row be removed


@suppress.command("list")
@click.option("--reason", help="Only this reason (unsubscribed, hard-bounce, soft-bounces, ...).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts (docs: JSON output).")
@config_option
def list_(reason: str | None, as_json: bool, config_path: Path) -> None:
    """Show the list: address, reason, source and when, oldest first.

    \b
    Example:
      newsletter suppress list --reason hard-bounce
      newsletter suppress list --json > suppressions.json
    """
    from newsletter import journal

    rows = [r for r in journal.list_suppressions(_open(config_path)) if reason is None or r.reason == reason]
    if as_json:
        import json

        click.echo(json.dumps({"count": len(rows), "by_reason": dict(sorted(Counter(r.reason for r in rows).items())),
                               "suppressions": [{"address": r.key, "reason": r.reason, "source": r.source,
                                                 "since": r.created} for r in rows]}, indent=2))
        return
    width = max((len(r.key) for r in rows), default=5)
    rwidth = max((len(r.reason) for r in rows), default=6)
    swidth = max((len(r.source) for r in rows), default=6)
    for row in rows:
        click.echo(f"{row.key:<{width}}  {row.reason:<{rwidth}}  {row.source:<{swidth}}  {row.created}")
    counts = Counter(r.reason for r in rows)
    detail = ", ".join(f"{n} {why}" for why, n in sorted(counts.items()))
    click.echo(f"{len(rows)} suppressed" + (f" ({detail})" if detail else ""))


@suppress.command("import")
@click.argument("csv_path", type=click.Path(dir_okay=False, path_type=Path), metavar="CSV")
@_reason_option
@config_option
def import_(csv_path: Path, reason: str, config_path: Path) -> None:
    """Suppress every address in a CRM opt-out export (CSV with an `email` column).

    Excel exports work (BOM, `;` or tab delimiter). Good rows are recorded even when
    some are bad; each bad row is reported with its line, and the exit status is 1.
    Importing the same file again changes nothing.

    \b
    Example:
      newsletter suppress import crm-optouts.csv
    """
    from newsletter.audience import import_optouts

    db = _open(config_path)
    _report(import_optouts(db, csv_path, reason=reason), f"Imported {csv_path.name}")


@suppress.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), metavar="CSV",
              help="Write here (atomically) instead of to standard output.")
@config_option
def export(out: Path | None, config_path: Path) -> None:
    """Write the list as CSV (email,reason,source,created) for the CRM.

    \b
    Example:
      newsletter suppress export --out suppressed.csv
    """
    from newsletter import journal
    from newsletter.audience import export_suppressions, write_suppressions

    db = _open(config_path)
    if out is None:
        write_suppressions(journal.list_suppressions(db), sys.stdout)
        return
    count = export_suppressions(db, out)
    click.echo(f"Exported {plural(count, 'suppressed address', 'suppressed addresses')} to {out}")
