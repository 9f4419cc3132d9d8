"""Issue 13, point 3: a bounce is matched to what `send` sent, and cannot be forged cheaply.

A real send through the in-process SMTP server with a bounce mailbox configured (so VERP
is on), then real Maildirs of bounces: genuine DSNs (by return path, by Message-ID) still
suppress the right address; the forged ones from the issue suppress nobody and are
reported as "ignored: not a bounce of a message we sent".
"""

from __future__ import annotations

import dataclasses
import json
import mailbox
import sqlite3
from email import message_from_bytes
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.sendkit import make_project, send, smtp_block, write_csv
from support.smtpserver import FaultyHandler, SmtpServer

from newsletter import journal
from newsletter.audience.bounces import IGNORED, NOT_A_BOUNCE, VERP_ONLY, import_bounces
from newsletter.audience.verp import read_verp
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.errors import NewsletterError
from newsletter.issue import build_issue

pytestmark = pytest.mark.usefixtures("token_secret")  # the secret a real send has

PEOPLE = [("alice@example.com", "Alice"), ("bob@example.com", "Bob"), ("carol@example.com", "Carol"),
          ("dave@example.com", "Dave"), ("erin@example.com", "Erin")]


class EnvelopeHandler(FaultyHandler):
    """Also records each accepted message's MAIL FROM: the return path its bounce goes to."""

    def __init__(self) -> None:
        super().__init__()
        self.mail_from: dict[str, str] = {}

    def _keep(self, envelope) -> None:  # type: ignore[no-untyped-def]
        super()._keep(envelope)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.mail_from[rcpt.lower()] = envelope.mail_from


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, dict[str, str], dict[str, str]]:
    """A project with `bounces.mailbox` set, after a send to PEOPLE: (config, return paths, Message-IDs)."""
    with pytest.MonkeyPatch.context() as mp, SmtpServer(EnvelopeHandler()) as server:
        mp.setenv("NEWSLETTER_TOKEN_SECRET", "test-token-secret")
        root = tmp_path_factory.mktemp("forged") / "digest"
        config = make_project(root, smtp=smtp_block(server.port), extra="bounces:\n  mailbox: Bounces\n")
        report = send(config, build_issue(config, parse_range("2023-07", None, None)), write_csv(root, PEOPLE))
        assert report.sent == len(PEOPLE)
        handler: EnvelopeHandler = server.handler  # type: ignore[assignment]
        ids = {rcpt: str(message_from_bytes(raw)["Message-ID"]) for rcpt, raw in handler.messages}
        return config, dict(handler.mail_from), ids


@pytest.fixture
def state_copy(sent: tuple[Config, dict[str, str], dict[str, str]], tmp_path: Path) -> Config:
    """A fresh copy of the sent project's state for each test, so suppressions do not leak."""
    config = sent[0]
    copy = tmp_path / "newsletter.db"
    with sqlite3.connect(config.state.path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    text = config.path.read_text(encoding="utf-8")
    (tmp_path / "newsletter.yaml").write_text(text, encoding="utf-8")
    return load_config(tmp_path / "newsletter.yaml")


def dsn(to: str, failed: list[str], *, headers: str = "", sender: str = "MAILER-DAEMON@mx.example.com",
        status: str = "5.1.1") -> bytes:
    """An RFC 3464 report delivered to `to`, naming `failed`, returning `headers` (if any)."""
    blocks = "".join(f"\nFinal-Recipient: rfc822; {a}\nAction: failed\nStatus: {status}\n"
                     f"Diagnostic-Code: smtp; 550 {status} <{a}>: User unknown\n" for a in failed)
    returned = f"--B\nContent-Type: text/rfc822-headers\n\n{headers}\n" if headers else ""
    return (f"Return-Path: <>\nDelivered-To: {to}\nFrom: {sender}\nTo: {to}\n"
            f"Subject: Undelivered Mail Returned to Sender\nMessage-ID: <{abs(hash((to, *failed, headers)))}@mx>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
            "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
            f"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n{blocks}\n"
            f"{returned}--B--\n").encode()


def plain(sender: str, body: str, to: str = "digest@example.org", return_path: str = "<>",
          failed: str = "") -> bytes:
    """A plain-text bounce; `failed` goes into Exim's X-Failed-Recipients header (easily forged too)."""
    extra = f"X-Failed-Recipients: {failed}\n" if failed else ""
    return (f"Return-Path: {return_path}\nDelivered-To: {to}\nFrom: {sender}\nTo: {to}\n{extra}"
            f"Subject: Mail delivery failed: returning message to sender\n"
            f"Message-ID: <{abs(hash((sender, body)))}@somewhere>\n\n{body}\n").encode()


def import_box(config: Config, tmp_path: Path, messages: list[bytes]) -> tuple[dict[str, str], list[str]]:
    """Import a Maildir of `messages`: (suppressed address -> reason, each message's verdict,
    sorted: a Maildir has no order of its own)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(tmp_path / "Bounces", create=True)
    for raw in messages:
        box.add(raw)
    db = journal.connect(config.state)
    result = import_bounces(db, tmp_path / "Bounces", config)
    return ({s.key: s.reason for s in journal.list_suppressions(db)},
            sorted(s.reason or "matched" for s in result.scanned))


def test_send_uses_a_verp_return_path_per_recipient(sent: tuple[Config, dict[str, str], dict[str, str]]) -> None:
    config, return_paths, _ = sent
    assert config.verp  # on by default once a bounce mailbox is configured
    assert sorted(return_paths) == sorted(e for e, _ in PEOPLE)
    for address in return_paths.values():
        assert address.startswith("digest+b1-") and address.endswith("@example.org")
        assert read_verp(address, "digest@example.org") is not None
    assert len(set(return_paths.values())) == len(PEOPLE)


def test_genuine_dsns_by_return_path_and_by_message_id_suppress(
        state_copy: Config, sent: tuple[Config, dict[str, str], dict[str, str]], tmp_path: Path) -> None:
    _, return_paths, ids = sent
    by_return_path = dsn(return_paths["alice@example.com"], ["alice@example.com"])  # quotes nothing
    by_message_id = dsn("digest@example.org", ["bob@example.com"],
                        headers=f"From: digest@example.org\nMessage-ID: {ids['bob@example.com']}\n")
    # a mail system's plain-text bounce that quotes the message it returns
    quoted = plain("Mail Delivery System <Mailer-Daemon@mx.example.com>",
                   "This is a permanent error. The following address(es) failed:\n\n  carol@example.com\n"
                   "    550 5.1.1 <carol@example.com>: User unknown\n\n"
                   "------ This is a copy of the message, including all the headers. ------\n\n"
                   f"From: digest@example.org\nMessage-ID: {ids['carol@example.com']}\n", failed="carol@example.com")
    # with VERP on (the default with a mailbox), only the return path counts (issue 27, point 6):
    # anyone who saw a Message-ID could otherwise mail the plain address a convincing DSN
    suppressed, verdicts = import_box(state_copy, tmp_path / "on", [by_return_path, by_message_id, quoted])
    assert suppressed == {"alice@example.com": "hard-bounce"}
    assert verdicts == sorted(["matched", VERP_ONLY, VERP_ONLY])
    # with VERP off, the Message-ID of the message returned is what ties a bounce to us
    suppressed, verdicts = import_box(dataclasses.replace(state_copy, verp=False), tmp_path / "off",
                                      [by_message_id, quoted])
    assert suppressed == {"alice@example.com": "hard-bounce", "bob@example.com": "hard-bounce",
                          "carol@example.com": "hard-bounce"}
    assert verdicts == ["matched"] * 2


def test_forged_bounces_suppress_nobody(state_copy: Config, sent: tuple[Config, dict[str, str], dict[str, str]],
                                        tmp_path: Path) -> None:
    _, return_paths, ids = sent
    alice_path = return_paths["alice@example.com"]
    forged = [
        # plain text from anyone, bounce-like subject, naming two addresses we mailed
        plain("Helpful Stranger <someone@attacker.example>", "550 5.1.1 user unknown: carol@example.com "
              "dave@example.com", return_path="<someone@attacker.example>",
              failed="carol@example.com, dave@example.com"),
        # to a VERP-looking address (the old readable form): someone never mailed, and erin who was
        dsn("digest+2023-07.someone=example.com@example.org", ["someone@example.com", "erin@example.com"]),
        # a return path of the right shape with a token send did not make
        dsn(alice_path[:-len("@example.org") - 4] + "aaaa@example.org", ["alice@example.com"]),
        # a mail system's plain text that names an address but returns no message of ours
        plain("MAILER-DAEMON@mx.example.com", "<dave@example.com>: 550 5.1.1 No such user", failed="dave@example.com"),
        # a DSN returning our message to bob that names someone else as failed
        dsn("digest@example.org", ["erin@example.com"],
            headers=f"Message-ID: {ids['bob@example.com']}\n"),
        # plain text quoting our message to carol, but from a person, not a mail system
        plain("Carol's friend <friend@example.net>", "<carol@example.com>: 550 5.1.1 User unknown\n\n"
              f"--- Below this line is a copy of the message.\n\nMessage-ID: {ids['carol@example.com']}\n",
              return_path="<friend@example.net>", failed="carol@example.com"),
        # a genuine return path for alice, but to another run that does not exist
        dsn(alice_path.replace("+b1-", "+b7-"), ["alice@example.com"]),
    ]
    # the issue's example as it was: no header at all, only the text names the addresses
    bare = plain("someone@attacker.example", "550 5.1.1 user unknown: carol@example.com dave@example.com",
                 return_path="<someone@attacker.example>")
    suppressed, verdicts = import_box(state_copy, tmp_path, [*forged, bare])
    assert suppressed == {}
    ignored = [v for v in verdicts if v.startswith(IGNORED)]
    assert len(ignored) == len(forged) and [v for v in verdicts if v not in ignored] == [NOT_A_BOUNCE], verdicts
    db = journal.connect(state_copy.state)
    assert db.execute("SELECT COUNT(*) FROM bounces").fetchone()[0] == 0


def test_the_verp_bounce_names_only_its_own_recipient(state_copy: Config,
                                                      sent: tuple[Config, dict[str, str], dict[str, str]],
                                                      tmp_path: Path) -> None:
    """A bounce to alice's return path that also lists bob and carol suppresses alice only."""
    _, return_paths, _ = sent
    raw = dsn(return_paths["alice@example.com"], ["bob@example.com", "alice@example.com", "carol@example.com"])
    suppressed, _ = import_box(state_copy, tmp_path, [raw])
    assert suppressed == {"alice@example.com": "hard-bounce"}


def test_scan_shows_matches_and_changes_nothing(state_copy: Config, sent: tuple[Config, dict[str, str], dict[str, str]],
                                                tmp_path: Path) -> None:
    _, return_paths, _ = sent
    box = mailbox.Maildir(tmp_path / "Bounces", create=True)  # bounces.mailbox: the default source
    box.add(dsn(return_paths["dave@example.com"], ["dave@example.com"]))
    box.add(plain("someone@attacker.example", "550 5.1.1 user unknown: erin@example.com",
                  return_path="<someone@attacker.example>", failed="erin@example.com"))
    runner = CliRunner()
    text = runner.invoke(main, ["bounces", "scan", "--config", str(state_copy.path)])
    assert text.exit_code == 0, text.output
    assert "  dave@example.com  hard  5.1.1  550 5.1.1 <dave@example.com>: User unknown" in text.output
    assert "  matched: run 1 (2023-07), dave@example.com, hard 5.1.1" in text.output
    assert f"  {VERP_ONLY}" in text.output
    out = runner.invoke(main, ["bounces", "scan", "--json", str(tmp_path / "Bounces"), "--config", str(state_copy.path)])
    objects = sorted(json.loads(out.output), key=lambda o: bool(o["matched"]))
    assert [o["matched"] for o in objects] == [[], [{"run": 1, "issue": "2023-07", "recipient": "dave@example.com",
                                                     "kind": "hard", "status": "5.1.1"}]]
    assert objects[0]["failures"][0]["address"] == "erin@example.com" and objects[0]["reason"].startswith(IGNORED)
    assert objects[1]["failures"] == [{"address": "dave@example.com", "kind": "hard", "status": "5.1.1",
                                       "diagnostic": "550 5.1.1 <dave@example.com>: User unknown",
                                       "delayed": False}]
    db = journal.connect(state_copy.state)
    assert journal.list_suppressions(db) == [] and db.execute("SELECT COUNT(*) FROM bounces").fetchone()[0] == 0
    imported = runner.invoke(main, ["bounces", "import", "--config", str(state_copy.path)])
    assert imported.exit_code == 0, imported.output
    assert "    matched: run 1 (2023-07), dave@example.com, hard 5.1.1: suppressed (hard bounce)" in imported.output
    assert "  ignored, not bounces of messages we sent (suppress nobody): 1" in imported.output
    assert [s.key for s in journal.list_suppressions(db)] == ["dave@example.com"]


def test_verp_off_and_return_path_from_the_config(tmp_path: Path) -> None:
    config = make_project(tmp_path / "a", extra="bounces:\n  mailbox: Bounces\n  verp: false\n"
                                                 "  return_path: bounces@example.org\n")
    assert (config.verp, config.return_path) == (False, "bounces@example.org")
    assert config.bounce_mailbox == (tmp_path / "a" / "Bounces").resolve()
    home = make_project(tmp_path / "h", extra="bounces:\n  mailbox: ~/Maildir/.Bounces\n")
    assert home.bounce_mailbox == Path("~/Maildir/.Bounces").expanduser() and home.verp
    assert make_project(tmp_path / "b").verp is False  # no bounce mailbox: plain return path
    with pytest.raises(NewsletterError) as err:
        make_project(tmp_path / "c", extra="bounces:\n  verp: maybe\n  return_path: Bounces <b+x@example.org>\n")
    message = str(err.value)
    assert "verp: must be true or false" in message and "return_path: not a plain address" in message
    assert "newsletter.yaml:" in message


def test_send_without_a_bounce_mailbox_keeps_the_plain_return_path(tmp_path: Path) -> None:
    with SmtpServer(EnvelopeHandler()) as server:
        config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
        send(config, build_issue(config, parse_range("2023-07", None, None)), write_csv(config.root, PEOPLE[:2]))
        assert set(server.handler.mail_from.values()) == {"digest@example.org"}  # type: ignore[attr-defined]
