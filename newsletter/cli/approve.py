"""`newsletter approve`: record that someone reviewed exactly this build of an issue."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, date_range, load, range_options

if TYPE_CHECKING:
    from newsletter import journal
    from newsletter.config import Config

__all__ = ["approve", "approval_lines"]


@click.command()
@range_options
@config_option
@click.option("--by", "approved_by", metavar="NAME", help="Who approves (default: your login name).")
@click.option("--subscribers", "subscribers_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The subscriber CSV whose theme choices decide the versions (default: subscribers.csv).")
def approve(month: str | None, since: str | None, until: str | None, config_path: Path,
            approved_by: str | None, subscribers_path: Path | None) -> None:
    """Approve the issue for MONTH exactly as it builds now, every version the list receives.

    The approval records a hash of each version's HTML, text and subject, the sender,
    the headers, the files it was made from and the check results. A scheduled send
    (`send --at`, `schedule`) goes only while the build still matches it.

    \b
    Example:
      newsletter approve 2023-07 --by "Jo Editor"
    """
    from newsletter.send import approve as record
    from newsletter.send import checked_plan

    config = load(config_path)
    plan = checked_plan(config, date_range(month, since, until), subscribers_path or config.subscribers_file)
    approval = record(plan, approved_by or _login())
    for line in approval_lines(config, approval):
        click.echo(line)
    if approval.record.get("errors"):
        click.echo(f"warning: `newsletter check {plan.slug}` finds errors: a scheduled send will not go "
                   "until they are fixed and the issue approved again", err=True)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def approval_lines(config: Config, approval: journal.Approval) -> list[str]:
    """How `approve`, `status` and `send --at` describe an approval."""
    import datetime as dt

    from newsletter.send import describe

    record = approval.record
    when = describe(dt.datetime.fromisoformat(approval.approved), config.timezone)
    versions = record.get("versions", {})
    findings = record.get("checks", [])
    errors = sum(1 for f in findings if f.get("severity") == "error")
    warnings = len(findings) - errors
    lines = [f"Approved {approval.slug} by {approval.approved_by} at {when}"]
    for label, version in versions.items():
        lines.append(f"  {label}: {version.get('subject', '')!r} (html {version.get('html', '')[:12]}, "
                     f"text {version.get('text', '')[:12]})")
    lines.append(f"  from {record.get('sender', '')}; {len(record.get('files', {}))} files; checks: "
                 f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}")
    return lines
