"""`newsletter bounces scan|import SOURCE...`: what a bounce mailbox says; suppress dead addresses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, load
from newsletter.cli.wording import plural

if TYPE_CHECKING:
    from newsletter import journal
    from newsletter.audience import BounceImport, ScannedMessage
    from newsletter.config import Config

__all__ = ["bounces"]

_sources_argument = click.argument("sources", nargs=-1, metavar="[SOURCE]...")
_allow_plain_option = click.option("--allow-plain-imap", is_flag=True,
                                   help="Allow imap:// (no TLS) to a host that is not this machine.")


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


def _sources(sources: tuple[str, ...], config: Config) -> list[str]:
    """The SOURCEs given, else `bounces.mailbox` from the config."""
    if sources:
        if len(sources) > 1 and any(_is_imap(s) for s in sources):
            raise click.UsageError("an IMAP mailbox is read on its own: give one imaps:// URL, or only paths")
        return list(sources)
    if config.bounce_imap is not None:
        return [config.bounce_imap]
    if config.bounce_mailbox is not None:
        return [str(config.bounce_mailbox)]
    raise click.UsageError("give a Maildir, an mbox, message files or an imaps:// URL, "
                           "or set bounces.mailbox in the config")


def _is_imap(source: str) -> bool:
    return source.lower().startswith(("imap://", "imaps://"))


@bounces.command("scan")
@_sources_argument
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects instead of text.")
@_allow_plain_option
@config_option
def scan(sources: tuple[str, ...], as_json: bool, allow_plain_imap: bool, config_path: Path) -> None:
    """Show what each message in SOURCE reports; change nothing.

    SOURCE is a Maildir, an mbox file, a folder of message files, message files or
    an IMAP folder `imaps://user@host/INBOX` (password in $NEWSLETTER_IMAP_PASSWORD;
    a scan leaves its messages unread) (default: `bounces.mailbox` from the config). For each message: every failed address
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
    from newsletter.audience import ImapMailbox, parse_imap_url, scan_messages, scan_raw

    config = load(config_path)
    state = config.state
    db = journal.connect(state if journal.exists(state) else Path(":memory:"))  # a scan never creates the state file
    given = _sources(sources, config)
    if _is_imap(given[0]):
        with ImapMailbox(parse_imap_url(given[0], allow_plain=allow_plain_imap)) as box:
            scanned = list(scan_raw(db, box.messages(), config))
    else:
        scanned = list(scan_messages(db, [Path(p) for p in given], config))
    if as_json:
        click.echo(json.dumps([_as_object(s) for s in scanned], indent=2))
        return
    for s in scanned:
        for line in _describe(s):
            click.echo(line)
    matched = sum(1 for s in scanned if s.matched)
    counts = {kind: sum(1 for s in scanned if s.kind == kind) for kind in
              ("complaint", "unsubscribe", "auto-reply", "delivered", "other", "unreadable")}
    click.echo(f"{len(scanned)} messages: {matched} bounces of messages we sent, "
               f"{sum(1 for s in scanned if s.is_bounce and not s.delayed and not s.matched)} ignored, "
               f"{sum(1 for s in scanned if s.delayed)} delay warnings, "
               f"{counts['complaint']} complaints, {counts['unsubscribe']} unsubscribe requests, "
               f"{counts['auto-reply']} auto-replies, {counts['delivered']} delivered notices, "
               f"{counts['other']} other mail, {counts['unreadable']} skipped (unreadable)")


def _describe(s: ScannedMessage, applied: dict[str, str] | None = None) -> list[str]:
    """The text lines for one message: its failures, then whom it matched (and what was done)."""
    lines = [s.source]
    for f in s.failures:
        note = " (delay warning)" if f.delayed else ""
        lines.append(f"  {f.recipient}  {f.kind}{note}  {f.status}  {f.diagnostic[:100]}".rstrip())
    for m in s.matched:
        done = f": {applied[f'{s.source}|{m.email}']}" if applied and f"{s.source}|{m.email}" in applied else ""
        lines.append(f"  matched: run {m.run_id} ({m.slug}), {m.email}, {m.failure.kind} {m.failure.status}{done}")
    if s.person:
        done = f": {applied[f'{s.source}|{s.person}']}" if applied and f"{s.source}|{s.person}" in applied else ""
        lines.append(f"  {s.kind}: {s.person}, by {s.how}{done}")
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
        "kind": s.kind,
        "person": s.person or None,
    }


@bounces.command("import")
@_sources_argument
@click.option("--move-to", metavar="FOLDER", help="IMAP: move each handled message to FOLDER (default: mark it read).")
@_allow_plain_option
@config_option
def import_(sources: tuple[str, ...], move_to: str | None, allow_plain_imap: bool, config_path: Path) -> None:
    """Read the messages in SOURCE (a Maildir, an mbox, message files or an IMAP folder) and suppress.

    DSNs (RFC 3464) and plain-text bounces are matched to the recipient and run by their
    VERP return path or the original Message-ID. Hard bounces (5.x.x) are suppressed at
    once, soft ones after `bounces.soft_limit` in a row (default 3); complaints and
    requests to the unsubscribe mailto address suppress too. Files are left where they
    are and importing them again changes nothing; an IMAP folder's messages are marked
    read (or moved with --move-to), so the next run reads only new ones.
    SOURCE defaults to `bounces.mailbox` from the config.

    \b
    Example:
      newsletter bounces import ~/Maildir/.Bounces
      NEWSLETTER_IMAP_PASSWORD=... newsletter bounces import imaps://bounces@mail.example.org/INBOX
    """
    from newsletter import journal
    from newsletter.audience import ImapMailbox, import_bounces, import_messages, parse_imap_url

    config = load(config_path)
    db = journal.connect(config.state)
    given = _sources(sources, config)
    if _is_imap(given[0]):
        source = parse_imap_url(given[0], allow_plain=allow_plain_imap)
        with ImapMailbox(source, move_to=move_to) as box:
            result = import_messages(db, box.messages(), config, done=box.done)
        where = str(source)
    else:
        result = import_bounces(db, [Path(p) for p in given], config)
        where = ", ".join(given)
    click.echo(f"Read {plural(result.messages, 'message')} from {where}")
    for line in _summary(result, config, db):
        click.echo(line)
    click.echo("Per message:")
    for s in result.scanned:
        for line in _describe(s, result.applied):
            click.echo(f"  {line}")
    for line in _skipped(result):
        click.echo(line)


def _summary(result: BounceImport, config: Config, db: journal.Db) -> list[str]:
    from newsletter import journal
    from newsletter.journal import SuppressionReason

    lines = [f"  hard bounces: {len(result.hard)}"]
    lines += [f"    {m.email}  {m.failure.status}  {m.failure.diagnostic[:100]}" for m in result.hard]
    lines.append(f"  soft bounces: {len(result.soft)} (suppressed after {config.soft_bounce_limit} in a row)")
    for m in result.soft:
        count = journal.consecutive_soft_bounces(db, m.email)
        lines.append(f"    {m.email}  {m.failure.status}  {count} in a row  {m.failure.diagnostic[:80]}")
    by = {reason: sum(1 for _, r in result.suppressed if r == reason) for reason in SuppressionReason}
    others = "".join(f", {count} {what}" for count, what in ((by[SuppressionReason.COMPLAINT], "complaints"),
                     (by[SuppressionReason.UNSUBSCRIBED], "unsubscribed by mail")) if count)
    lines.append(f"  suppressed now: {len(result.suppressed)} ({by[SuppressionReason.HARD_BOUNCE]} hard, "
                 f"{by[SuppressionReason.SOFT_BOUNCES]} after repeated soft bounces{others})")
    if result.already:
        lines.append(f"  already imported: {result.already}")
    if result.delays:
        lines.append(f"  delay warnings (not bounces yet): {result.delays}")
    if result.stale:
        lines.append(f"  old bounces, delivered a newer issue since (change nothing): {result.stale}")
    if result.complaints:
        lines.append(f"  complaints (suppressed as complaint): {len(result.complaints)}")
        lines += [f"    {address}" for address in result.complaints]
    if result.unsubscribes:
        lines.append(f"  unsubscribe requests by mail (suppressed as unsubscribed): {len(result.unsubscribes)}")
        lines += [f"    {address}" for address in result.unsubscribes]
    if result.auto_replies:
        lines.append(f"  auto-replies (change nothing): {result.auto_replies}")
    if result.delivered:
        lines.append(f"  delivered notices (change nothing): {result.delivered}")
    if result.not_bounces:
        lines.append(f"  not bounces (other mail): {result.not_bounces}")
    if result.unmatched:
        lines.append(f"  ignored, not bounces of messages we sent (suppress nobody): {len(result.unmatched)}")
        lines += [f"    {named}  ({source})" for source, named in result.unmatched]
    return lines


def _skipped(result: BounceImport) -> list[str]:
    """The last lines: every message skipped, by name, with the reason."""
    if not result.skipped:
        return []
    lines = [f"Skipped {plural(len(result.skipped), 'unreadable message')} (the others were processed):"]
    return lines + [f"  {source}: {reason.removeprefix('skipped: ')}" for source, reason in result.skipped]
