"""`newsletter subscribers export`: the subscriber CSV merged with the state file, for the CRM."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural

__all__ = ["subscribers"]


@click.group()
def subscribers() -> None:
    """The subscriber list as `send` sees it: the CSV plus what subscribers did since.

    \b
    Example:
      newsletter subscribers export --out crm-import.csv
    """


@subscribers.command("export")
@config_option
@click.option("--subscribers", "subscribers_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The subscriber CSV (default: subscribers.csv beside the config).")
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the CSV here (atomically) instead of to standard output.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON instead of CSV (docs: JSON output).")
def export(config_path: Path, subscribers_path: Path | None, out: Path | None, as_json: bool) -> None:
    """Write the list merged with the topics chosen on the preferences page, the
    suppression list and the confirmed sign-ups: email, name, status, themes, themes_from,
    suppressed, suppressed_since, and for sign-ups the consent on record: signup_requested,
    signup_confirmed, signup_source (page or snippet) and consent (the wording shown);
    then language and language_from (site: chosen on the sign-up form or the topics
    page, which wins over the CSV's column; list: the CSV's; blank: the config's own).

    A topic choice saved on the page replaces the CSV's `themes` (themes_from: page);
    an address unsubscribed through a link has status `unsubscribed`; bounced and other
    suppressed addresses keep their status and name the reason in `suppressed`. The
    file is a valid subscriber CSV: `send --subscribers` reads it back. Confirmed sign-ups
    not in the CSV are added at the end.

    \b
    Example:
      newsletter subscribers export --out crm-import.csv
      newsletter subscribers export --subscribers lists/practitioners.csv > merged.csv
      newsletter subscribers export --json | jq '.subscribers | length'
    """
    from newsletter import journal
    from newsletter.audience import export_subscribers, merged_rows, resolve, write_export

    config = load(config_path)
    with contextlib.closing(journal.connect(config.state)) as db:
        audience = resolve(config, subscribers_path or config.subscribers_file, db)
    for problem in audience.listed.invalid:
        click.echo(f"warning: {audience.path}:{problem.line}: skipped: {problem.reason} ({problem.value!r})",
                   err=True)
    for error in audience.choices.problems:
        click.echo(f"warning: {error}: ignored", err=True)
    rows = merged_rows(audience, config)
    if as_json:
        if out is not None:
            raise click.UsageError("--json prints to standard output; leave out --out")
        import dataclasses
        import json

        objects = [{**dataclasses.asdict(row), "themes": list(row.themes) if row.themes else None} for row in rows]
        click.echo(json.dumps({"count": len(objects), "subscribers": objects}, indent=2, ensure_ascii=False))
        return
    if out is None:
        write_export(rows, sys.stdout)
        return
    count = export_subscribers(rows, out)
    from_page = sum(1 for row in rows if row.themes_from == "page")
    unsubscribed = sum(1 for row in rows if row.status == "unsubscribed")
    signed_up = sum(1 for row in rows if row.signup_confirmed)
    signups = f", {signed_up} confirmed on the sign-up page" if signed_up else ""
    click.echo(f"Wrote {plural(count, 'subscriber')} to {out} ({from_page} with topics from the preferences page, "
               f"{unsubscribed} unsubscribed{signups})", err=True)
