"""`newsletter bounces scan|import SOURCE...`: what a bounce mailbox says; suppress dead addresses."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural

if TYPE_CHECKING:
    from newsletter.audience import BounceImport, ScannedMessage
    from newsletter.config import Config

__all__ = ["bounces"]

_sources_argument = click.argument("sources", nargs=-1, type=click.Path(path_type=Path), metavar="[SOURCE]...")


@click.group()
def bounces() -> None:
    """Bounces: read delivery failures from a mailbox and suppress dead addresses.

    A bounce suppresses only an address of a message `send` sent: matched by its VERP
    return path or by the original Message-ID it returns. Anything else is reported as
    "ignored: not a bounce of a message we sent".

    \b
    Example:
      newsletter bounces scan ~/Maildir/.Bounces      # look, change nothing
      newsletter bounces import ~/Maildir/.Bounces    # record and suppress
    """


def _sources(sources: tuple[Path, ...], config: Config) -> list[Path]:
    """The SOURCEs given, else `bounces.mailbox` from the config."""
    if sources:
        return list(sources)
    if config.bounce_mailbox is not None:
        return [config.bounce_mailbox]
    raise click.UsageError("give a Maildir, an mbox or message files, or set bounces.mailbox in the config")


@bounces.command("scan")
@_sources_argument
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects instead of text.")
@config_option
def scan(sources: tuple[Path, ...], as_json: bool, config_path: Path) -> None:
    """Show what each message in SOURCE reports; change nothing.

    SOURCE is a Maildir, an mbox file, a folder of message files or message files
    (default: `bounces.mailbox` from the config). For each message: every failed address
    with hard/soft, status code and diagnostic, and the run and recipient it matches, or
    why it matches nothing. `--json` prints a list of objects with `file`, `failures`
    (`address`, `kind`, `status`, `diagnostic`, `delayed`), `matched` (`run`, `issue`,
    `recipient`) and `reason`.

    \b
    Example:
      newsletter bounces scan ~/Maildir/.Bounces
      newsletter bounces scan --json bounce1.eml bounce2.eml
    """
    from newsletter import journal
    from newsletter.audience import scan_messages

    config = load(config_path)
    state = config.state_file
    db = journal.connect(state if state.exists() else Path(":memory:"))  # a scan never creates the state file
    scanned = list(scan_messages(db, _sources(sources, config), config))
    if as_json:
        click.echo(json.dumps([_as_object(s) for s in scanned], indent=2))
        return
    for s in scanned:
        for line in _describe(s):
            click.echo(line)
    matched = sum(1 for s in scanned if s.matched)
    click.echo(f"{len(scanned)} messages: {matched} bounces of messages we sent, "
               f"{sum(1 for s in scanned if s.is_bounce and not s.delayed and not s.matched)} ignored, "
               f"{sum(1 for s in scanned if s.delayed)} delay warnings, "
               f"{sum(1 for s in scanned if not s.is_bounce)} not bounces")


def _describe(s: ScannedMessage, applied: dict[str, str] | None = None) -> list[str]:
    """The text lines for one message: its failures, then whom it matched (and what was done)."""
    lines = [s.source]
    for f in s.failures:
        note = " (delay warning)" if f.delayed else ""
        lines.append(f"  {f.recipient}  {f.kind}{note}  {f.status}  {f.diagnostic[:100]}".rstrip())
    for m in s.matched:
        done = f": {applied[f'{s.source}|{m.email}']}" if applied else ""
        lines.append(f"  matched: run {m.run_id} ({m.slug}), {m.email}, {m.failure.kind} {m.failure.status}{done}")
    if s.reason:
        lines.append(f"  {s.reason}")
    return lines


def _as_object(s: ScannedMessage) -> dict[str, object]:
    return {
        "file": s.source,
        "failures": [{"address": f.recipient, "kind": f.kind, "status": f.status, "diagnostic": f.diagnostic,
                      "delayed": f.delayed} for f in s.failures],
        "matched": [{"run": m.run_id, "issue": m.slug, "recipient": m.email, "kind": m.failure.kind,
                     "status": m.failure.status} for m in s.matched],
        "reason": s.reason or None,
    }


@bounces.command("import")
@_sources_argument
@config_option
def import_(sources: tuple[Path, ...], config_path: Path) -> None:
    """Read the bounce messages in SOURCE (a Maildir, an mbox or message files) and suppress.

    DSNs (RFC 3464) and plain-text bounces are matched to the recipient and run by their
    VERP return path or the original Message-ID. Hard bounces (5.x.x) are suppressed at
    once, soft ones (4.x.x) after `bounces.soft_limit` in a row (default 3). Messages
    are left where they are; importing the same mailbox again changes nothing.
    SOURCE defaults to `bounces.mailbox` from the config.

    \b
    Example:
      newsletter bounces import ~/Maildir/.Bounces
    """
    from newsletter import journal
    from newsletter.audience import import_bounces

    config = load(config_path)
    db = journal.connect(config.state_file)
    paths = _sources(sources, config)
    result = import_bounces(db, paths, config)
    click.echo(f"Read {plural(result.messages, 'message')} from {', '.join(str(p) for p in paths)}")
    for line in _summary(result, config, db):
        click.echo(line)
    click.echo("Per message:")
    for s in result.scanned:
        for line in _describe(s, result.applied):
            click.echo(f"  {line}")


def _summary(result: BounceImport, config: Config, db: sqlite3.Connection) -> list[str]:
    from newsletter import journal
    from newsletter.audience import HARD_REASON

    lines = [f"  hard bounces: {len(result.hard)}"]
    lines += [f"    {m.email}  {m.failure.status}  {m.failure.diagnostic[:100]}" for m in result.hard]
    lines.append(f"  soft bounces: {len(result.soft)} (suppressed after {config.soft_bounce_limit} in a row)")
    for m in result.soft:
        count = journal.consecutive_soft_bounces(db, m.email)
        lines.append(f"    {m.email}  {m.failure.status}  {count} in a row  {m.failure.diagnostic[:80]}")
    hard = sum(1 for _, reason in result.suppressed if reason == HARD_REASON)
    lines.append(f"  suppressed now: {len(result.suppressed)} ({hard} hard, "
                 f"{len(result.suppressed) - hard} after repeated soft bounces)")
    if result.already:
        lines.append(f"  already imported: {result.already}")
    if result.delays:
        lines.append(f"  delay warnings (not bounces yet): {result.delays}")
    if result.not_bounces:
        lines.append(f"  not bounces (auto-replies and other mail): {result.not_bounces}")
    if result.unmatched:
        lines.append(f"  ignored, not bounces of messages we sent (suppress nobody): {len(result.unmatched)}")
        lines += [f"    {named}  ({source})" for source, named in result.unmatched]
    return lines
