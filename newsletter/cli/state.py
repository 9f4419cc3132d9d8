"""`newsletter state show|upgrade|copy`: where the state lives, its schema, moving it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from newsletter.cli.options import config_option, load
from newsletter.errors import NewsletterError

__all__ = ["state"]


@click.group()
def state() -> None:
    """The state: send runs, suppressions, topics, sign-ups, bounces, caches.

    It lives in `newsletter.db` beside the config, or in the PostgreSQL database that
    `state:` (or NEWSLETTER_STATE) names when the site and the sender run apart.

    \b
    Example:
      newsletter state show
      newsletter state upgrade
      newsletter state copy --to postgresql://newsletter@db.example.org/newsletter
    """


@state.command("show")
@config_option
def show(config_path: Path) -> None:
    """Say which state is in use, whether it answers, and its schema version.

    \b
    Example:
      newsletter state show
    """
    from newsletter import journal

    config = load(config_path)
    click.echo(f"state: {journal.describe(config.state)}")
    if not journal.exists(config.state):
        click.echo("  not created yet (the first command that writes creates it)")
        return
    with contextlib.closing(journal.connect(config.state, migrate=False)) as db:
        version = journal.schema_version(db)
        click.echo(f"  schema version {version} of {journal.LATEST}"
                   + ("" if version == journal.LATEST else " (run `newsletter state upgrade`)"))
        for table, count in journal.row_counts(db).items() if version else ():
            click.echo(f"  {table}: {count}")


@state.command("upgrade")
@config_option
def upgrade(config_path: Path) -> None:
    """Bring the state's schema up to this version of newsletter (back it up first).

    Commands do this by themselves for every step marked safe; this also applies the
    ones kept for a deliberate upgrade.

    \b
    Example:
      newsletter state upgrade
    """
    from newsletter import journal

    config = load(config_path)
    with contextlib.closing(journal.connect(config.state, migrate=False)) as db:
        before = journal.schema_version(db)
        applied = journal.upgrade(db, automatic=False)
    where = journal.describe(config.state)
    if not applied:
        click.echo(f"{where}: already at schema version {before}")
        return
    for migration in applied:
        click.echo(f"  {migration.number}: {migration.name}")
    click.echo(f"{where}: schema version {before} -> {applied[-1].number}")


@state.command("copy")
@click.option("--to", "target", required=True, metavar="URL",
              help="The state to copy into: postgresql://user@host:port/db, or a SQLite file.")
@click.option("--force", is_flag=True, help="Empty the target first if it already holds rows.")
@config_option
def copy(target: str, force: bool, config_path: Path) -> None:
    """Copy every row of this folder's state into another (e.g. into PostgreSQL), then
    compare the row counts of every table. Point `state:` at the target afterwards.

    \b
    Example:
      newsletter state copy --to postgresql://newsletter@db.example.org/newsletter
    """
    from newsletter import journal

    config = load(config_path)
    destination = journal.parse_state(target, base=Path.cwd())
    if journal.describe(destination) == journal.describe(config.state):
        raise NewsletterError("the target is the state in use", hint="name another database or file with --to")
    if not journal.exists(config.state):
        raise NewsletterError("no state to copy yet", path=journal.describe(config.state))
    with contextlib.closing(journal.connect(config.state)) as source, \
            contextlib.closing(journal.connect(destination)) as into:
        report = journal.copy_state(source, into, force=force)
    if report.replaced:
        click.echo("The target held rows: emptied first (--force).")
    for table, count in report.counts.items():
        click.echo(f"  {table}: {count}")
    click.echo(f"Copied {sum(report.counts.values())} rows into {journal.describe(destination)}; "
               "every table's count matches.")
    click.echo(f"Next: set `state: {journal.describe(destination)}` in {config.path.name} "
               "(on every machine that shares it).")
