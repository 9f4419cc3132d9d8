"""`newsletter check`: the issue's findings, one per line (or JSON); exit 1 while there are errors."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from newsletter.cli.options import config_option, issue_range, load, range_options

if TYPE_CHECKING:
    from newsletter.issue import Finding

__all__ = ["check", "check_summary", "finding_line", "finding_record", "print_findings"]


def check_summary(findings: Iterable[Finding | Mapping[str, Any]], slug: str) -> str:
    """One line for `build` (and `send`): how many errors and warnings (and notes, when the
    tool changed something such as a colour), and what to run."""
    from newsletter.issue import count

    findings = list(findings)
    errors, warnings, notes = count(findings, "error"), count(findings, "warning"), count(findings, "info")
    noted = f", {notes} note{'s' * (notes != 1)}" if notes else ""
    run = f"; run `newsletter check {slug}` for details."
    if not errors and not warnings:
        return f"Checks: no problems found{noted}{run}" if notes else "Checks: no problems found."
    return f"Checks: {errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}{noted}{run}"


def finding_line(f: Finding) -> str:
    """`FILE:LINE: severity rule: message (fix)`, as linters print, so editors and CI can jump."""
    line = f"{f.where}: {f.severity} {f.rule}: {f.message}" + (f" ({f.hint})" if f.hint else "")
    return line + (f" [variant: {f.variant}]" if f.variant else "")


def finding_record(f: Finding) -> dict[str, Any]:
    """A finding for `--format json`: its fields, plus `file` and `line` split out of `where`."""
    match = re.fullmatch(r"(?P<file>[^:\s]+):(?P<line>\d+)", f.where)
    file, line = (match["file"], int(match["line"])) if match else (f.where.split(":")[0], None)
    return {**f.as_dict(), "file": file, "line": line}


def print_findings(findings: list[Finding]) -> None:
    """For a terminal: each finding as `FILE:LINE  severity  rule` on one line, then what is
    wrong and what to do, indented. Long paths and URLs wrap at the terminal's edge and are
    never cut, so `FILE:LINE` and the URL can be copied whole."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    console = Console(highlight=False)
    for f in findings:
        head = Text(f.where, style="bold")
        head.append("  ")
        head.append(f.severity, style={"error": "bold red", "warning": "yellow"}.get(f.severity, "cyan"))
        head.append(f"  {f.rule}")
        if f.variant:
            head.append(f"  ({f.variant})", style="dim")
        console.print(head, overflow="fold")
        advice = Text(_sentence(f.message) + ".")
        if f.hint:
            advice.append(f"\n-> {_sentence(f.hint)}.", style="dim")
        console.print(Padding(advice, (0, 0, 0, 2)), overflow="fold")


def _sentence(text: str) -> str:
    """Capitalise a leading plain word ("the subject ..."), never a URL or a config key."""
    return text[:1].upper() + text[1:] if re.match(r"[a-z]+\b(?![.:/])", text) else text


@click.command()
@range_options
@config_option
@click.option("--links", is_flag=True, help="Also request every link and image (cached for a day).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds to wait for each link with --links.")
@click.option("--format", "output", type=click.Choice(["auto", "terminal", "text", "json"]), default="auto",
              show_default=True,
              help="text: one finding per line (FILE:LINE: severity rule: message (fix)); json: for scripts; "
                   "auto: terminal when the output is a terminal, else text.")
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
def check(month: str | None, since: str | None, until: str | None, config_path: Path, links: bool,
          timeout: float, output: str, strict: bool) -> None:
    """Check the issue for MONTH for what would embarrass you once it is sent.

    Builds the issue in memory (nothing is written) and checks size, long lines, alt
    text, links, subject, preheader, text/HTML parity, unsubscribe links and headers,
    colour contrast, Outlook markup, counted links against the site's own route (with
    tracking.clicks); also each theme variant that subscribers.csv
    (beside the config) will receive. Errors are listed first. Exit status 1 when there
    is an error (or, with --strict, a warning).

    \b
    Example:
      newsletter check 2023-07
      newsletter check 2023-07 --links
      newsletter check 2023-07 --format json --strict   # in CI
    """
    import json

    from newsletter.issue import count, link_findings, ordered, probe_links, url_locations, web_links
    from newsletter.journal import connect
    from newsletter.send import build_checked, checked_audience, version_labels

    config = load(config_path)
    audience = checked_audience(config, config.subscribers_file)
    result = build_checked(config, issue_range(config, month, since, until), audience, write=False)
    findings = list(result.findings)
    if config.count_clicks:
        from newsletter.site import check_counted_links

        findings = ordered([*findings, *check_counted_links(config, result)])
    if links:
        urls = web_links(result.files["email.html"].decode("utf-8"), config)
        click.echo(f"Checking {len(urls)} link{'s' * (len(urls) != 1)} ...", err=True)
        db = connect(config.state)
        try:
            answers = probe_links(urls, db=db, timeout=timeout)
        finally:
            db.close()
        findings = ordered([*findings, *link_findings(answers, url_locations(result.rendered.issue))])
    slug = result.rendered.issue.range.slug
    errors, warnings = count(findings, "error"), count(findings, "warning")
    if output == "auto":
        output = "terminal" if sys.stdout.isatty() else "text"
    if output == "json":
        click.echo(json.dumps({"issue": slug, "errors": errors, "warnings": warnings, "notes": count(findings, "info"),
                               "versions": version_labels(result, config, audience),
                               "findings": [finding_record(f) for f in findings]}, indent=2))
    else:
        if output == "terminal":
            print_findings(findings)
        else:
            for f in findings:
                click.echo(finding_line(f))
        click.echo(check_summary(findings, slug).replace(f"; run `newsletter check {slug}` for details", ""))
    if errors or (strict and warnings):
        click.get_current_context().exit(1)
