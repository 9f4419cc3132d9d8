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
def export(config_path: Path, subscribers_path: Path | None, out: Path | None) -> None:
    """Write the list merged with the topics chosen on the preferences page, the
    suppression list and the confirmed sign-ups: email, name, status, themes, themes_from,
    suppressed, suppressed_since, and for sign-ups the consent on record: signup_requested,
    signup_confirmed, signup_source (page or snippet) and consent (the wording shown).

    A topic choice saved on the page replaces the CSV's `themes` (themes_from: page);
    an address unsubscribed through a link has status `unsubscribed`; bounced and other
    suppressed addresses keep their status and name the reason in `suppressed`. The
    file is a valid subscriber CSV: `send --subscribers` reads it back. Confirmed sign-ups
    not in the CSV are added at the end.

    \b
    Example:
      newsletter subscribers export --out crm-import.csv
      newsletter subscribers export --subscribers lists/practitioners.csv > merged.csv
    """
    from newsletter import journal
    from newsletter.audience import check_list_themes, export_subscribers, merged_rows, read_subscribers, write_export

    config = load(config_path)
    listed = read_subscribers(subscribers_path or config.subscribers_file)
    for problem in listed.invalid:
        click.echo(f"warning: {listed.path}:{problem.line}: skipped: {problem.reason} ({problem.value!r})", err=True)
    for error in check_list_themes(listed, config):
        click.echo(f"warning: {error}: ignored", err=True)
    with contextlib.closing(journal.connect(config.state_file)) as db:
        rows = merged_rows(listed, config, journal.all_preferences(db), journal.list_suppressions(db),
                           journal.confirmed_signups(db))
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
