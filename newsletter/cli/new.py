"""`newsletter new "Title"` (and `newsletter item new`): start an item file (start/item.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from newsletter.cli.options import config_option, load

__all__ = ["item", "new"]


@click.command()
@click.argument("title")
@config_option
@click.option("--edit/--no-edit", default=True, show_default=True,
              help="Open the file in $EDITOR (only on a terminal, and only if $EDITOR is set).")
def new(title: str, config_path: Path, edit: bool) -> None:
    """Write items/YYYY-MM-DD-slug.yaml dated today, with every field to fill in.

    \b
    Example:
      newsletter new "Annual report published"
      EDITOR=nano newsletter new "Consultation on school safety"
    """
    from newsletter.daterange import parse_range
    from newsletter.start import new_item

    config = load(config_path)
    path = new_item(config, title)
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    month = parse_range(path.name[:7], None, None)  # the file is named for the date it carries
    click.echo(f"Wrote {shown}: the {month.label} issue includes it (`newsletter build {month.slug}`)")
    if edit and os.environ.get("EDITOR") and sys.stdin.isatty() and sys.stdout.isatty():
        click.edit(filename=str(path))


@click.group()
def item() -> None:
    """Work with item files.

    \b
    Example:
      newsletter item new "Annual report published"
    """


item.add_command(new)
