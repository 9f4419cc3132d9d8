"""`newsletter check`: the issue's findings as a table; exit 1 while there are errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsletter.cli.options import config_option, date_range, load, range_options

if TYPE_CHECKING:
    from rich.table import Table

    from newsletter.issue.checks.findings import Finding

__all__ = ["check", "check_summary", "findings_table"]


def check_summary(findings: Iterable[Finding | Mapping[str, Any]], slug: str) -> str:
    """One line for `build` (and `send`): how many errors and warnings, and what to run."""
    from newsletter.issue.checks.findings import count

    findings = list(findings)
    errors, warnings = count(findings, "error"), count(findings, "warning")
    if not errors and not warnings:
        return "Checks: no problems found."
    return (f"Checks: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}; "
            f"run `newsletter check {slug}` for details.")


def findings_table(findings: list[Finding]) -> Table:
    """Errors first; user data goes in as plain `Text`, so brackets in URLs are not markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold")
    table.add_column("rule", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("where", overflow="fold", max_width=34)
    has_variants = any(f.variant for f in findings)
    if has_variants:
        table.add_column("variant", overflow="fold", max_width=24)
    table.add_column("what to do", ratio=1)
    for f in sorted(findings, key=lambda f: (f.severity != "error", f.rule, f.where)):
        severity = Text(f.severity, style="bold red" if f.severity == "error" else "yellow")
        advice = Text(_sentence(f.message) + ".")
        if f.hint:
            advice.append(f"\n-> {_sentence(f.hint)}.", style="dim")
        cells = [f.rule, severity, Text(f.where), *([Text(f.variant or "whole issue")] if has_variants else []), advice]
        table.add_row(*cells)
    return table


def _sentence(text: str) -> str:
    """Capitalise a leading plain word ("the subject ..."), never a URL or a config key."""
    return text[:1].upper() + text[1:] if re.match(r"[a-z]+\b(?![.:/])", text) else text


@click.command()
@range_options
@config_option
@click.option("--links", is_flag=True, help="Also request every link and image (cached for a day).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for each link with --links.")
def check(month: str | None, since: str | None, until: str | None, config_path: Path, links: bool,
          timeout: float) -> None:
    """Check the issue for MONTH for what would embarrass you once it is sent.

    Builds the issue in memory (nothing is written) and checks size, long lines, alt
    text, links, subject, preheader, text/HTML parity, unsubscribe links and headers,
    colour contrast, Outlook markup; also each theme variant that subscribers.csv
    (beside the config) will receive. Exit status 1 when there is an error.

    \b
    Example:
      newsletter check 2023-07
      newsletter check 2023-07 --links
    """
    from rich.console import Console

    from newsletter.issue.variantchecks import build_checked
    from newsletter.issue.checks.document import url_locations
    from newsletter.issue.checks.findings import Finding, count
    from newsletter.issue.probe import link_findings, probe_links, web_links
    from newsletter.journal.db import connect

    config = load(config_path)
    result = build_checked(config, date_range(month, since, until), config.root / "subscribers.csv", write=False)
    findings = [Finding(**f) for f in result.manifest["checks"]]
    if links:
        urls = web_links(result.files["email.html"].decode("utf-8"), config)
        click.echo(f"Checking {len(urls)} links ...", err=True)
        db = connect(config.state_file)
        try:
            answers = probe_links(urls, db=db, timeout=timeout)
        finally:
            db.close()
        findings += link_findings(answers, url_locations(result.rendered.issue))
    slug = result.rendered.issue.range.slug
    if findings:
        Console(soft_wrap=False).print(findings_table(findings))
    click.echo(check_summary(findings, slug).replace(f"; run `newsletter check {slug}` for details", ""))
    if count(findings, "error"):
        click.get_current_context().exit(1)
