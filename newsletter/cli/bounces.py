"""`newsletter bounces import MAILDIR`: suppress addresses that bounce."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural

__all__ = ["bounces"]


@click.group()
def bounces() -> None:
    """Bounces: read delivery failures from a mailbox and suppress dead addresses.

    \b
    Example:
      newsletter bounces import ~/Maildir/.Bounces
    """


@bounces.command("import")
@click.argument("maildir", type=click.Path(path_type=Path), metavar="MAILDIR")
@config_option
def import_(maildir: Path, config_path: Path) -> None:
    """Read the bounce messages in MAILDIR (or an mbox file) and suppress.

    DSNs (RFC 3464) and plain-text bounces are matched to the recipient and run by the
    original Message-ID or a VERP return path. Hard bounces (5.x.x) are suppressed at
    once, soft ones (4.x.x) after `bounces.soft_limit` in a row (default 3). Messages
    are left where they are; importing the same mailbox again changes nothing.

    \b
    Example:
      newsletter bounces import ~/Maildir/.Bounces
    """
    from newsletter import journal
    from newsletter.audience.bounces import HARD_REASON, import_bounces

    config = load(config_path)
    db = journal.connect(config.state_file)
    result = import_bounces(db, maildir, config)
    click.echo(f"Read {plural(result.messages, 'message')} from {maildir}")
    click.echo(f"  hard bounces: {len(result.hard)}")
    for m in result.hard:
        click.echo(f"    {m.email}  {m.failure.status}  {m.failure.diagnostic[:100]}")
    click.echo(f"  soft bounces: {len(result.soft)} (suppressed after {config.soft_bounce_limit} in a row)")
    for m in result.soft:
        count = journal.consecutive_soft_bounces(db, m.email)
        click.echo(f"    {m.email}  {m.failure.status}  {count} in a row  {m.failure.diagnostic[:80]}")
    newly = [e for e, reason in result.suppressed]
    hard = sum(1 for _, reason in result.suppressed if reason == HARD_REASON)
    click.echo(f"  suppressed now: {len(newly)} ({hard} hard, {len(newly) - hard} after repeated soft bounces)")
    if result.already:
        click.echo(f"  already imported: {result.already}")
    if result.delays:
        click.echo(f"  delay warnings (not bounces yet): {result.delays}")
    if result.not_bounces:
        click.echo(f"  not bounces (auto-replies and other mail): {result.not_bounces}")
    if result.unmatched:
        click.echo(f"  not matched to any recipient `send` mailed: {len(result.unmatched)}")
        for key, named in result.unmatched:
            click.echo(f"    {named}  ({key})")
