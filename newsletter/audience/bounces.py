"""Bounces: read a mailbox of delivery failures, match them to what `send` sent, suppress.

What each message says is `bounceparse.py`'s job; this module reads the mailbox, decides
whom each bounce is about, and (on import) records it. Anyone can send us a message that
looks like a bounce, so a bounce only ever names addresses of a message we sent:

- delivered to a VERP return path (`digest+b12-<token>@example.org`, see `verp.py`) whose
  token `send` made: it is about that run's recipient, and only that one;
- else a DSN (RFC 3464), or a plain-text bounce from a mail system (null sender,
  MAILER-DAEMON, postmaster), that returns one of our messages (its `Message-ID` in the
  `message/rfc822` or `text/rfc822-headers` part, or in the quoted copy): it is about the
  recipient of that message, and only if it names that recipient as failed;
- anything else is reported as "ignored: not a bounce of a message we sent" and
  suppresses nobody, whatever addresses it names.

Hard bounces suppress at once; soft ones (the server gave up on a temporary condition,
such as a full mailbox) after `bounces.soft_limit` in a row. Each bounce is stored under
its own key, so importing the same mailbox again changes nothing. `scan_messages` gives
the same verdicts without recording anything (`newsletter bounces scan`).
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import mailbox
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from newsletter import journal
from newsletter.audience.bounceparse import FailedAddress, ParsedBounce, parse_bounce
from newsletter.audience.verp import read_verp, tokens_for_run
from newsletter.config import Config
from newsletter.errors import ConfigError, NewsletterError
from newsletter.tokens import SECRET_FILE, load_secrets

__all__ = [
    "HARD_REASON",
    "DELAY",
    "IGNORED",
    "NOT_A_BOUNCE",
    "SOFT_REASON",
    "BounceImport",
    "Matched",
    "ScannedMessage",
    "import_bounces",
    "read_messages",
    "scan_messages",
]

HARD_REASON = "hard-bounce"
SOFT_REASON = "soft-bounces"
IGNORED = "ignored: not a bounce of a message we sent"
NOT_A_BOUNCE = "not a bounce (no failed address: an auto-reply or other mail)"
DELAY = "delay warning: the server is still trying, not a bounce yet"


@dataclass(frozen=True)
class Matched:
    """A failure tied to the run and recipient of a message we sent."""

    email: str
    run_id: int
    failure: FailedAddress
    slug: str | None = None


@dataclass(frozen=True)
class ScannedMessage:
    """What one message in a mailbox reports and whom it concerns; nothing recorded."""

    source: str  # the message's file (or mbox#n), for the report
    failures: tuple[FailedAddress, ...] = ()
    matched: tuple[Matched, ...] = ()
    reason: str = ""  # why it matched nobody ("" when it matched)
    bounce_id: str = ""  # its own Message-ID (or a digest): the key that makes re-import harmless
    received: str = ""

    @property
    def is_bounce(self) -> bool:
        return bool(self.failures)

    @property
    def delayed(self) -> bool:
        return self.is_bounce and all(f.delayed for f in self.failures)


@dataclass
class BounceImport:
    """What an import did, for the report; addresses only, never message contents."""

    messages: int = 0
    hard: list[Matched] = field(default_factory=list)
    soft: list[Matched] = field(default_factory=list)
    suppressed: list[tuple[str, str]] = field(default_factory=list)  # (email, reason)
    already: int = 0  # bounces imported before
    delays: int = 0
    not_bounces: int = 0
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (source, what it named)
    scanned: list[ScannedMessage] = field(default_factory=list)
    applied: dict[str, str] = field(default_factory=dict)  # "source|email" -> what the import did


def read_messages(sources: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every message in each source: a Maildir, an mbox, a folder of
    message files, or one message file."""
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from _read_folder(path)
        elif path.is_file():
            with path.open("rb") as fh:
                is_mbox = fh.read(5) == b"From "
            yield from (_read_mbox(path) if is_mbox else [(str(path), path.read_bytes())])
        else:
            raise NewsletterError("no such mailbox or message file", path=path,
                                  hint="give a Maildir folder, an mbox file or message files")


def _read_folder(path: Path) -> Iterator[tuple[str, bytes]]:
    if (path / "cur").is_dir() or (path / "new").is_dir():
        files = sorted(f for sub in ("new", "cur") if (path / sub).is_dir() for f in (path / sub).iterdir())
    else:
        files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise NewsletterError("not a Maildir (no cur/ or new/ folder)", path=path,
                                  hint="point at the Maildir folder that holds cur/, new/ and tmp/")
    for file in files:
        try:
            yield str(file), file.read_bytes()
        except OSError:
            continue  # moved by the mail client while we read: nothing to do


def _read_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, factory=None, create=False)
    for number, key in enumerate(sorted(box.iterkeys()), start=1):
        yield f"{path}#{number}", box.get_bytes(key)


class _Matcher:
    """Ties a parsed bounce to the run and recipient of a message we sent, or says why not."""

    def __init__(self, db: sqlite3.Connection, config: Config) -> None:
        self.db = db
        self.config = config
        self.keys = _verp_keys(config)
        self._tokens: dict[int, dict[str, str]] = {}

    def match(self, parsed: ParsedBounce) -> tuple[list[Matched], str]:
        final = parsed.final
        for address in parsed.envelope_to:
            verp = read_verp(address, self.config.return_path)
            email = self._verp_recipient(*verp) if verp else None
            if verp and email:
                failure = next((f for f in final if f.recipient == email), None) or _worst(final)
                return [self._matched(email, verp[0], failure)], ""
        if not (parsed.is_report or parsed.from_mail_system):
            return [], f"{IGNORED} (plain text, not from a mail system)"
        ours = [found for mid in parsed.original_ids if (found := journal.recipient_for_message_id(self.db, mid))]
        if not ours:
            forged = any(read_verp(a, self.config.return_path) for a in parsed.envelope_to)
            return [], f"{IGNORED}" + (" (its return path was not made by send)" if forged else "")
        matched = [self._matched(email, run_id, f) for run_id, email in dict.fromkeys(ours)
                   for f in final if f.recipient == email]
        if not matched:
            names = ", ".join(email for _, email in dict.fromkeys(ours))
            return [], f"{IGNORED} (it returns our message to {names} but names other addresses)"
        return _worst_per_address(matched), ""

    def _verp_recipient(self, run_id: int, token: str) -> str | None:
        if run_id not in self._tokens:
            self._tokens[run_id] = tokens_for_run(self.keys, run_id, journal.run_addresses(self.db, run_id))
        return self._tokens[run_id].get(token)

    def _matched(self, email: str, run_id: int, failure: FailedAddress) -> Matched:
        return Matched(email, run_id, failure, journal.run_slug(self.db, run_id))


def _verp_keys(config: Config) -> list[bytes]:
    """The token secrets VERP tokens may have been made with; none if no secret is set up
    (then no return path verifies, and bounces match by Message-ID only)."""
    secret_file = config.secret_file or config.root / SECRET_FILE
    try:  # read, never create: a scan changes nothing, and a new secret verifies no old return path
        return load_secrets(config.secret_env, secret_file if secret_file.exists() else None,
                            old_env=config.old_secrets_env, old_until=config.old_secrets_until)
    except ConfigError:
        return []


def _worst(failures: tuple[FailedAddress, ...]) -> FailedAddress:
    """Hard before soft: what a VERP bounce that names a forwarded address says."""
    return next((f for f in failures if f.kind == "hard"), failures[0])


def _worst_per_address(matches: list[Matched]) -> list[Matched]:
    """One failure per address per bounce message: hard wins over soft."""
    best: dict[str, Matched] = {}
    for m in matches:
        if m.email not in best or (m.failure.kind == "hard" and best[m.email].failure.kind == "soft"):
            best[m.email] = m
    return list(best.values())


def scan_messages(db: sqlite3.Connection, sources: Iterable[Path], config: Config) -> Iterator[ScannedMessage]:
    """What every message in `sources` reports and whom it concerns; records nothing."""
    matcher = _Matcher(db, config)
    for where, raw in read_messages(sources):
        msg = email.message_from_bytes(raw)
        yield _scan_one(matcher, where, raw, msg)


def _scan_one(matcher: _Matcher, where: str, raw: bytes, msg: Message) -> ScannedMessage:
    parsed = parse_bounce(msg)
    if parsed is None:
        return ScannedMessage(where, reason=NOT_A_BOUNCE)
    if parsed.delayed:
        return ScannedMessage(where, parsed.failures, reason=DELAY)
    matched, reason = matcher.match(parsed)
    bounce_id = str(msg.get("Message-ID", "")).strip() or hashlib.sha256(raw).hexdigest()
    return ScannedMessage(where, parsed.failures, tuple(matched), reason, bounce_id, _received(msg))


def _received(msg: Message) -> str:
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return journal.now()
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def import_bounces(db: sqlite3.Connection, source: Path | Iterable[Path], config: Config) -> BounceImport:
    """Scan every message in `source`, record the bounces of messages we sent, suppress hard
    and repeated soft ones."""
    sources = [source] if isinstance(source, (str, Path)) else list(source)
    result = BounceImport()
    for scanned in scan_messages(db, sources, config):
        result.messages += 1
        result.scanned.append(scanned)
        if not scanned.is_bounce:
            result.not_bounces += 1
        elif scanned.delayed:
            result.delays += 1
        elif not scanned.matched:
            named = ", ".join(f.recipient for f in scanned.failures) or "no address"
            result.unmatched.append((scanned.source, named))
        for m in scanned.matched:
            result.applied[f"{scanned.source}|{m.email}"] = _record(db, result, m, scanned, config)
    return result


def _record(db: sqlite3.Connection, result: BounceImport, m: Matched, scanned: ScannedMessage,
            config: Config) -> str:
    """Store one matched failure and suppress if due; says what it did, for the report."""
    failure = m.failure
    new = journal.record_bounce(db, journal.Bounce(
        key=f"{scanned.bounce_id}|{m.email}", email=m.email, kind=failure.kind, status=failure.status,
        diagnostic=failure.diagnostic, received=scanned.received, run_id=m.run_id,
    ))
    if not new:
        result.already += 1
        return "already imported"
    if failure.kind == "hard":
        result.hard.append(m)
        if journal.suppress(db, m.email, HARD_REASON, f"bounce:{failure.status}"):
            result.suppressed.append((m.email, HARD_REASON))
            return "suppressed (hard bounce)"
        return "recorded (already suppressed)"
    result.soft.append(m)
    count = journal.consecutive_soft_bounces(db, m.email)
    if count >= config.soft_bounce_limit and journal.suppress(
        db, m.email, SOFT_REASON, f"bounce:{failure.status} ({count} in a row)"
    ):
        result.suppressed.append((m.email, SOFT_REASON))
        return f"suppressed ({count} soft bounces in a row)"
    return f"recorded ({count} soft in a row; suppressed at {config.soft_bounce_limit})"
