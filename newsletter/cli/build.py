"""`newsletter build`: render an issue into issues/<slug>/."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.options import config_option, issue_range, load, range_options
from newsletter.cli.wording import plural


@click.command()
@range_options
@config_option
@click.option("--open", "open_browser", is_flag=True, help="Open email.html in the browser afterwards.")
def build(month: str | None, since: str | None, until: str | None, config_path: Path,
          open_browser: bool) -> None:
    """Build the issue for MONTH (default: last full month) into issues/<slug>/.

    \b
    Example:
      newsletter build 2023-07
      newsletter build --since 2023-06-15 --until 2023-07-14
    """
    from newsletter.cli.check import check_summary
    from newsletter.issue import clipped_error
    from newsletter.send import build_checked, checked_audience

    config = load(config_path)
    result = build_checked(config, issue_range(config, month, since, until), checked_audience(config, config.subscribers_file))
    rendered = result.rendered
    click.echo(f"Built {rendered.issue.range.label}: {plural(len(rendered.issue.items), 'item')} "
               f"in {plural(len(rendered.issue.sections), 'theme')} -> {_shown(result.folder)}/")
    for section in rendered.issue.sections:
        click.echo(f"  {section.theme}: {len(section.items)}")
    click.echo(f"  Subject: {rendered.subject}")
    click.echo(f"  email.html {rendered.sent_bytes / 1024:.1f} KB as sent (Gmail clips at 102 KB), "
               f"email.txt {len(result.files['email.txt']) / 1024:.1f} KB")
    if rendered.excerpt:
        click.echo(f"  The full email would be {rendered.excerpt_of / 1024:.0f} KB as sent and Gmail would clip it: "
                   "built the short excerpt instead (titles and first lines, linking to the issue online).")
    clipped = clipped_error(result)
    if clipped is not None:  # the same fact as the size warning, as the one error that fails the build
        raise clipped
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(check_summary(result.findings, rendered.issue.range.slug))
    if open_browser:
        click.launch(str(result.folder / "email.html"))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
