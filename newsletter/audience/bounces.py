"""The return mailbox: match what each message says to what `send` sent, and act on it.

What each message says is `bounceparse.py`'s job, reading the mailbox `mailboxes.py`'s
(and `imapbox.py`'s); this module decides whom each message is about and (on import)
records it. Anyone can send us a message that looks like a bounce, so a bounce only ever
names addresses of a message we sent:

- delivered to a VERP return path (`digest+b12-<token>@example.org`, see `verp.py`) whose
  token `send` made: it is about that run's recipient, and only that one;
- with `bounces.verp` off, a DSN (RFC 3464), or a plain-text bounce from a mail system
  (null sender, MAILER-DAEMON, postmaster), that returns one of our messages (its
  `Message-ID` in the returned part or the quoted copy): it is about the recipient of that
  message, and only if it names that recipient as failed. With VERP on, only a return path
  `send` made counts: a bounce at the plain address is ignored, whatever it quotes;
- anything else is reported as "ignored: not a bounce of a message we sent".

A bounce about a run older than a newer run the address was delivered to more than
`SETTLED_DAYS` ago with no bounce back (a good delivery) changes nothing: it is a replay
of an old bounce, or news overtaken by that delivery.
Hard bounces suppress at once; soft ones after `bounces.soft_limit` in a row. Complaints
(ARF, SES) about a message we sent suppress its recipient as `complaint`; a request to
the `unsubscribe.mailto` address as `unsubscribed`; auto-replies and delivered notices
change nothing. Each bounce is stored under its own key, so importing the same mailbox
again changes nothing. `scan_messages` gives the same verdicts without recording anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from newsletter import journal
from newsletter.audience.bounceparse import FailedAddress, ParsedBounce, Reading
from newsletter.audience.mailboxes import Unreadable, read_messages, read_safely
from newsletter.audience.reports import Complaint
from newsletter.audience.unsubmail import unsubscribe_request
from newsletter.audience.verp import read_verp, tokens_for_run
from newsletter.config import Config
from newsletter.errors import ConfigError
from newsletter.journal import SuppressionReason
from newsletter.tokens import SECRET_FILE, load_secrets

__all__ = [
    "STALE",
    "VERP_ONLY",
    "DELAY",
    "IGNORED",
    "NOT_A_BOUNCE",
    "BounceImport",
    "Matched",
    "ScannedMessage",
    "import_bounces",
    "import_messages",
    "scan_messages",
    "scan_raw",
]

IGNORED = "ignored: not a bounce of a message we sent"
NOT_A_BOUNCE = "not a bounce (no failed address: an auto-reply or other mail)"
DELAY = "delay warning: the server is still trying, not a bounce yet"
AUTO_REPLY = "auto-reply (RFC 3834): changes nothing"
DELIVERED = "delivered notice: changes nothing"
VERP_ONLY = f"{IGNORED} (bounces.verp is on: only a return path send made counts)"
SETTLED_DAYS = 7  # servers give up after 5 days: a delivery this old with no bounce was a good one
STALE = "changes nothing: the address was delivered a newer issue since (a replay, or old news)"


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

    source: str  # the message's file (or mbox#n, imap UID n), for the report
    failures: tuple[FailedAddress, ...] = ()
    matched: tuple[Matched, ...] = ()
    reason: str = ""  # why it matched nobody ("" when it matched)
    bounce_id: str = ""  # its own Message-ID (or a digest): the key that makes re-import harmless
    received: str = ""
    kind: str = "bounce"  # bounce | delay | complaint | unsubscribe | auto-reply | delivered | other | unreadable
    person: str = ""  # complaint / unsubscribe: the address to suppress ("" when none matched)
    how: str = ""  # where `person` came from: the message we sent, a VERP path, a token, From

    @property
    def is_bounce(self) -> bool:
        return bool(self.failures)

    @property
    def delayed(self) -> bool:
        return self.is_bounce and all(f.delayed for f in self.failures)

    @property
    def skipped(self) -> bool:
        return self.kind == "unreadable"


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
    stale: int = 0  # bounces about a run the address has had a good delivery since
    complaints: list[str] = field(default_factory=list)  # addresses that complained
    unsubscribes: list[str] = field(default_factory=list)  # addresses that mailed the mailto
    auto_replies: int = 0
    delivered: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason): unreadable
    scanned: list[ScannedMessage] = field(default_factory=list)
    applied: dict[str, str] = field(default_factory=dict)  # "source|email" -> what the import did


class _Matcher:
    """Ties a message to the run and recipient of a message we sent, or says why not."""

    def __init__(self, db: journal.Db, config: Config) -> None:
        self.db = db
        self.config = config
        self.keys = _token_keys(config)
        self._tokens: dict[int, dict[str, str]] = {}

    def match(self, parsed: ParsedBounce) -> tuple[list[Matched], str]:
        final = parsed.final
        verp = self._verp(parsed.envelope_to)
        if verp is not None:
            run_id, email = verp
            failure = next((f for f in final if f.recipient == email), None) or _worst(final)
            return [self._matched(email, run_id, failure)], ""
        forged = any(read_verp(a, self.config.return_path) for a in parsed.envelope_to)
        if self.config.verp:
            return [], VERP_ONLY
        if not (parsed.is_report or parsed.from_mail_system):
            return [], f"{IGNORED} (plain text, not from a mail system)"
        ours = self._ours(parsed.original_ids)
        if not ours:
            return [], f"{IGNORED}" + (" (its return path was not made by send)" if forged else "")
        matched = [self._matched(email, run_id, f) for run_id, email in ours for f in final if f.recipient == email]
        if not matched:
            names = ", ".join(email for _, email in ours)
            return [], f"{IGNORED} (it returns our message to {names} but names other addresses)"
        return _worst_per_address(matched), ""

    def complainer(self, complaint: Complaint) -> tuple[int, str] | None:
        """(run, address) of the message a complaint is about: by its return path, else by its
        Message-ID; never by the addresses a report merely names."""
        verp = self._verp(complaint.envelope_from)
        if verp is not None:
            return verp
        ours = self._ours(complaint.original_ids)
        return ours[0] if ours else None

    def _verp(self, addresses: Iterable[str]) -> tuple[int, str] | None:
        for address in addresses:
            verp = read_verp(address, self.config.return_path)
            email = self._verp_recipient(*verp) if verp else None
            if verp and email:
                return verp[0], email
        return None

    def _ours(self, message_ids: Iterable[str]) -> list[tuple[int, str]]:
        found = [hit for mid in message_ids if (hit := journal.recipient_for_message_id(self.db, mid))]
        return list(dict.fromkeys(found))

    def _verp_recipient(self, run_id: int, token: str) -> str | None:
        if run_id not in self._tokens:
            self._tokens[run_id] = tokens_for_run(self.keys, run_id, journal.run_addresses(self.db, run_id))
        return self._tokens[run_id].get(token)

    def _matched(self, email: str, run_id: int, failure: FailedAddress) -> Matched:
        return Matched(email, run_id, failure, journal.run_slug(self.db, run_id))


def _token_keys(config: Config) -> list[bytes]:
    """The token secrets VERP return paths and unsubscribe tokens may have been made with;
    none if no secret is set up (then no return path and no token verifies)."""
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


def scan_messages(db: journal.Db, sources: Iterable[Path], config: Config) -> Iterator[ScannedMessage]:
    """What every message in `sources` (paths) reports and whom it concerns; records nothing."""
    return scan_raw(db, read_messages(sources), config)


def scan_raw(db: journal.Db, messages: Iterable[tuple[str, bytes]], config: Config) -> Iterator[ScannedMessage]:
    """The same for (where, raw bytes) pairs, from any mailbox (IMAP included)."""
    matcher = _Matcher(db, config)
    for where, raw in messages:
        outcome = read_safely(raw)
        if isinstance(outcome, Unreadable):
            yield ScannedMessage(where, reason=f"skipped: {outcome.reason}", kind="unreadable")
            continue
        try:
            yield _scan_one(matcher, where, raw, *outcome)
        except (ValueError, TypeError, LookupError, UnicodeError, AttributeError, RecursionError) as exc:
            # what a message's values can provoke while matching; a journal error is not caught
            yield ScannedMessage(where, reason=f"skipped: cannot be matched ({type(exc).__name__}: {str(exc)[:120]})",
                                 kind="unreadable")


def _scan_one(matcher: _Matcher, where: str, raw: bytes, msg: Message, reading: Reading) -> ScannedMessage:
    bounce_id = str(msg.get("Message-ID", "")).strip()[:300] or hashlib.sha256(raw).hexdigest()
    if reading.kind == "complaint" and reading.complaint is not None:
        hit = matcher.complainer(reading.complaint)
        if hit is None:
            return ScannedMessage(where, reason=f"complaint about no message we sent: {IGNORED}", kind="complaint")
        return ScannedMessage(where, bounce_id=bounce_id, kind="complaint", person=hit[1],
                              how=f"feedback report ({reading.complaint.feedback_type}) on run {hit[0]}")
    if reading.kind in ("auto-reply", "delivered"):
        return ScannedMessage(where, reason=AUTO_REPLY if reading.kind == "auto-reply" else DELIVERED, kind=reading.kind)
    if reading.kind == "other":
        return _unsubscribe_or_other(matcher, where, msg)
    parsed = reading.bounce
    assert parsed is not None
    if parsed.delayed:
        return ScannedMessage(where, parsed.failures, reason=DELAY, kind="delay")
    matched, reason = matcher.match(parsed)
    return ScannedMessage(where, parsed.failures, tuple(matched), reason, bounce_id, _received(msg))


def _unsubscribe_or_other(matcher: _Matcher, where: str, msg: Message) -> ScannedMessage:
    """A request to the mailto address from a subscriber (or with a token), else other mail."""
    config = matcher.config
    request = unsubscribe_request(msg, mailto=config.unsubscribe_mailto, list_id=config.list_id, keys=matcher.keys)
    if request is None:
        return ScannedMessage(where, reason=NOT_A_BOUNCE, kind="other")
    address, how = request
    if how == "from" and not journal.was_mailed(matcher.db, address):
        return ScannedMessage(where, reason=f"unsubscribe request from {address}, never mailed: changes nothing",
                              kind="unsubscribe")
    return ScannedMessage(where, kind="unsubscribe", person=address,
                          how="its unsubscribe token" if how == "token" else "mail from the address")


def _received(msg: Message) -> str:
    try:
        when = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return journal.now()
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def import_bounces(db: journal.Db, source: Path | Iterable[Path], config: Config) -> BounceImport:
    """Scan every message in `source` (paths), record and suppress: see `import_messages`."""
    sources = [source] if isinstance(source, (str, Path)) else list(source)
    return import_messages(db, read_messages(sources), config)


def import_messages(db: journal.Db, messages: Iterable[tuple[str, bytes]], config: Config,
                    done: Callable[[str], None] | None = None) -> BounceImport:
    """Record the bounces of messages we sent, suppress hard and repeated soft ones,
    complaints and mailto unsubscribes; `done(where)` after each message is handled
    (an IMAP mailbox marks it seen)."""
    result = BounceImport()
    for scanned in scan_raw(db, messages, config):
        result.messages += 1
        result.scanned.append(scanned)
        _apply(db, result, scanned, config)
        if done is not None:
            done(scanned.source)
    return result


def _apply(db: journal.Db, result: BounceImport, scanned: ScannedMessage, config: Config) -> None:
    kind = scanned.kind
    if kind == "unreadable":
        result.skipped.append((scanned.source, scanned.reason))
    elif kind == "auto-reply":
        result.auto_replies += 1
    elif kind == "delivered":
        result.delivered += 1
    elif kind in ("complaint", "unsubscribe"):
        _opt_out(db, result, scanned)
    elif not scanned.is_bounce:
        result.not_bounces += 1
    elif scanned.delayed:
        result.delays += 1
    elif not scanned.matched:
        named = ", ".join(f.recipient for f in scanned.failures) or "no address"
        result.unmatched.append((scanned.source, named))
    for m in scanned.matched:
        result.applied[f"{scanned.source}|{m.email}"] = _record(db, result, m, scanned, config)


def _opt_out(db: journal.Db, result: BounceImport, scanned: ScannedMessage) -> None:
    """A complaint or a mailto request: suppress the address with its own reason."""
    if not scanned.person:
        return
    complaint = scanned.kind == "complaint"
    (result.complaints if complaint else result.unsubscribes).append(scanned.person)
    reason = SuppressionReason.COMPLAINT if complaint else SuppressionReason.UNSUBSCRIBED
    source = ("complaint:" if complaint else "mailto:") + scanned.how
    new = journal.suppress(db, scanned.person, reason, source[:300])
    if new:
        result.suppressed.append((scanned.person, reason))
    result.applied[f"{scanned.source}|{scanned.person}"] = f"suppressed ({reason})" if new else "already suppressed"


def _record(db: journal.Db, result: BounceImport, m: Matched, scanned: ScannedMessage,
            config: Config) -> str:
    """Store one matched failure and suppress if due; says what it did, for the report."""
    failure = m.failure
    settled = (dt.datetime.now(dt.UTC) - dt.timedelta(days=SETTLED_DAYS)).isoformat(timespec="seconds")
    if journal.delivered_since(db, m.email, m.run_id, before=settled):
        result.stale += 1
        return STALE
    new = journal.record_bounce(db, journal.Bounce(
        key=f"{scanned.bounce_id}|{m.email}", email=m.email, kind=failure.kind, status=failure.status,
        diagnostic=failure.diagnostic, received=scanned.received, run_id=m.run_id,
    ))
    if not new:
        result.already += 1
        return "already imported"
    if failure.kind == "hard":
        result.hard.append(m)
        if journal.suppress(db, m.email, SuppressionReason.HARD_BOUNCE, f"bounce:{failure.status}"):
            result.suppressed.append((m.email, SuppressionReason.HARD_BOUNCE))
            return "suppressed (hard bounce)"
        return "recorded (already suppressed)"
    result.soft.append(m)
    count = journal.consecutive_soft_bounces(db, m.email)
    if count >= config.soft_bounce_limit and journal.suppress(
        db, m.email, SuppressionReason.SOFT_BOUNCES, f"bounce:{failure.status} ({count} in a row)"
    ):
        result.suppressed.append((m.email, SuppressionReason.SOFT_BOUNCES))
        return f"suppressed ({count} soft bounces in a row)"
    return f"recorded ({count} soft in a row; suppressed at {config.soft_bounce_limit})"
