"""`newsletter init DIR`: make a new newsletter folder (start/folder.py does the work)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["init"]


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The newsletter's name (default: from the folder's name).")
@click.option("--from", "sender", metavar='"NAME <ADDR>"', help="The sender, as subscribers see it.")
@click.option("--themes", metavar="A,B,C", help="The themes, comma-separated, in display order.")
@click.option("--organisation", metavar="NAME", help="Who sends it, for the footer (e.g. the charity's name).")
@click.option("--address", metavar="TEXT", help="The organisation's postal address, on one line.")
@click.option("--website", metavar="URL", help="The organisation's website (https), linked from the footer.")
@click.option("--accent", metavar="#RRGGBB", help="The brand colour for the masthead, links and buttons.")
@click.option("--force", is_flag=True, help="Use a non-empty folder: add only the files that are missing.")
def init(folder: Path, name: str | None, sender: str | None, themes: str | None, organisation: str | None,
         address: str | None, website: str | None, accent: str | None, force: bool) -> None:
    """Create a newsletter folder that builds and sends (into a local outbox) at once.

    It holds newsletter.yaml, three starter items dated last month, subscribers.csv,
    templates/ to customise, a .gitignore and the token secret. What is not given as an
    option it asks for on a terminal (the organisation's name, postal address, website
    and colour may be left blank: they are then written commented out, to fill in later).

    \b
    Example:
      newsletter init my-digest --name "Safeguarding digest" \\
          --from "Learning team <digest@example.org>" --themes "Online safety,Neglect" \\
          --organisation "Example Trust" --address "42 Weston Street, London SE1 3QD" \\
          --website https://example.org --accent "#6b2c91"
      cd my-digest && newsletter build 2023-07
    """
    from newsletter.start import DEFAULT_THEMES, FolderPlan, default_name, init_folder

    ask = sys.stdin.isatty() and sys.stdout.isatty()
    name = name or (click.prompt("Newsletter name", default=default_name(folder)) if ask else default_name(folder))
    fallback = f"{name} <newsletter@example.org>"
    sender = sender or (click.prompt("Sender (Name <address>)", default=fallback) if ask else fallback)
    if themes is None and ask:
        themes = click.prompt("Themes, comma-separated, in display order", default=", ".join(DEFAULT_THEMES))
    chosen = tuple(t.strip() for t in themes.split(",") if t.strip()) if themes is not None else DEFAULT_THEMES

    def brand(value: str | None, question: str) -> str:
        if value is not None or not ask:
            return (value or "").strip()
        return str(click.prompt(f"{question} (Enter to leave for later)", default="", show_default=False)).strip()

    organisation = brand(organisation, "Organisation's name, for the footer")
    address = brand(address, "Its postal address, on one line")
    website = brand(website, "Its website (https://...)")
    accent = brand(accent, "Brand colour (#rrggbb)")
    plan = FolderPlan(name=name, sender=sender, themes=chosen, organisation=organisation, address=address,
                      website=website, accent=accent)
    result = init_folder(folder, plan, force=force)
    click.echo(f"Made {folder}/ for {name!r}:")
    for relative in result.written:
        click.echo(f"  {relative}")
    if result.kept:
        click.echo(f"  (kept {len(result.kept)} existing file{'s' * (len(result.kept) != 1)}: "
                   f"{', '.join(result.kept)})")
    click.echo("Next:")
    click.echo(f"  cd {folder}")
    click.echo(f"  newsletter build {result.month}          # the starter items")
    click.echo(f"  newsletter send {result.month} --yes     # into outbox/ here: no mail leaves the machine")
    click.echo('  newsletter new "Your first item"')
    if not address:
        click.echo("  then, before a real send: your postal address under organisation: in newsletter.yaml")
