"""`newsletter archive`: publish every built issue as a static web site."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural


@click.command()
@config_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write the site into.  [default: site/ beside the config]")
@click.option("--base-url", metavar="URL", default=None,
              help="Where the site will be published (default: archive_url from the config); "
                   "needed for the sitemap and the feed's absolute links.")
@click.option("--list", "list_files", is_flag=True, help="Also list the unchanged files.")
def archive(config_path: Path, out: Path | None, base_url: str | None, list_files: bool) -> None:
    """Write a static web archive of every issue in issues/: an index, a page per issue
    and per theme, an Atom feed, a sitemap and a client-side search.

    Only files whose content changed are rewritten. The links are relative, so the folder
    works from disk (open index.html) and on any static host, e.g. GitHub Pages.

    \b
    Example:
      newsletter build 2023-07 && newsletter archive
      newsletter archive --out public/ --base-url https://example.org/digest/
    """
    from newsletter.archive import build_archive

    config = load(config_path)
    out = out if out is not None else config.root / "site"
    result = build_archive(config, out, base_url=base_url)
    report, issues = result.report, result.archive.issues
    shown = _shown(out)
    for name in report.written:
        click.echo(f"  wrote      {shown}/{name}")
    for name in report.unchanged if list_files else ():
        click.echo(f"  unchanged  {shown}/{name}")
    for name in report.removed:
        click.echo(f"  removed    {shown}/{name}")
    items = sum(len(i.items) for i in issues)
    click.echo(f"Archived {len(issues)} issue{'s' * (len(issues) != 1)} ({plural(items, 'item')}, "
               f"{plural(len(result.archive.themes), 'theme')}) -> {shown}/: {len(report.written)} written, "
               f"{len(report.unchanged)} unchanged, {len(report.removed)} removed")
    click.echo(f"  Open {shown}/index.html in a browser, or publish {shown}/ on any static host.")
    for note in result.notes:
        click.echo(f"note: {note}")
    for warning in result.archive.warnings:
        click.echo(f"warning: {warning}", err=True)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
