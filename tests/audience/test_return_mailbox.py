"""Issue 27: the rest of the return mailbox. Hostile messages cost one message each;
complaints and mailto requests suppress with their own reasons; auto-replies and
delivered notices change nothing; replayed old bounces change nothing."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import journal
from newsletter.audience.bounces import STALE, import_bounces
from newsletter.audience.verp import verp_address
from newsletter.cli import main
from newsletter.config import Config
from newsletter.tokens import make_token

WORLD = Path(__file__).resolve().parents[1] / "data" / "bounces-world"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "bounces"
SECRET = b"return-mailbox-secret"
ALICE_ID = "<nl1.a11ce00000000000001@example.org>"  # what postfix-hard.eml returns


@pytest.fixture(autouse=True)
def token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", SECRET.decode())


@pytest.fixture
def db(config: Config) -> journal.Db:
    return journal.connect(config.state)


def sent_run(db: journal.Db, slug: str, recipients: dict[str, str], *, when: str | None = None) -> int:
    """A run whose recipients were all accepted by the server (at `when`, default now)."""
    run = journal.open_run(db, slug, subject=f"digest {slug}", digest="d", subscribers="subscribers.csv")
    journal.apply_plan(db, run.id, new=[journal.NewRecipient(e, e, "", None, "pending", "", mid)
                                        for e, mid in recipients.items()], wanted=[], skip=[])
    claimed = journal.checkpoint(db, run.id, [], claim=len(recipients))
    journal.checkpoint(db, run.id, [journal.Outcome(r.email, "sent", "250 2.0.0 queued") for r in claimed])
    if when:
        db.execute("UPDATE recipients SET updated = ? WHERE run_id = ?", (when, run.id))
    return run.id


def maildir(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(raw)
    return path


def suppressed(db: journal.Db) -> dict[str, str]:
    return {s.key: s.reason for s in journal.list_suppressions(db)}


def nested(depth: int) -> bytes:
    """A message of `depth` multiparts, each inside the last."""
    head = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n" for i in range(depth))
    return (f"From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\nMIME-Version: 1.0\n{head}"
            "Content-Type: text/plain\n\nhello\n").encode()


def odd_charset(charset: str) -> bytes:
    return (b"Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\n"
            + f"Content-Type: text/plain; charset=\"{charset}\"\n\n".encode()
            + b"<x@example.com>: 550 5.1.1 user unknown \xff\xfe\n--B--\n")


HOSTILE = {
    "idna": odd_charset("idna"),
    "undefined": odd_charset("undefined"),
    "nested": nested(5000),
    "huge": b"From: MAILER-DAEMON@mx.example.net\nSubject: x\n\n" + b"A" * (11 * 1024 * 1024),
    "no-headers": b"\xff\xfe\x00garbage\n\n\x00",
}


def test_hostile_messages_cost_one_message_each(config: Config, db: journal.Db, tmp_path: Path) -> None:
    """The import reads past every hostile message, skips the unreadable ones by name with the
    reason, processes the genuine bounce behind them, and says at the end what it skipped."""
    sent_run(db, "2023-07", {"alice@example.com": ALICE_ID})
    box = tmp_path / "Bounces"
    (box / "cur").mkdir(parents=True)
    for name, raw in HOSTILE.items():
        (box / "cur" / f"0-{name}").write_bytes(raw)
    (box / "cur" / "9-genuine").write_bytes((SAMPLES / "postfix-hard.eml").read_bytes())
    result = CliRunner().invoke(main, ["bounces", "import", str(box), "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert suppressed(db) == {"alice@example.com": "hard-bounce"}
    tail = result.output.splitlines()[-3:]
    assert tail[0] == "Skipped 2 unreadable messages (the others were processed):"
    assert sorted(tail[1:]) == [f"  {box / 'cur' / '0-huge'}: larger than 10 MB",
                                f"  {box / 'cur' / '0-nested'}: more than 500 nested MIME parts"]
    again = CliRunner().invoke(main, ["bounces", "import", str(box), "--config", str(config.path)])
    assert again.exit_code == 0 and "already imported: 1" in again.output  # the next import is not stuck either


def test_a_scan_reports_a_skipped_message_and_goes_on(config: Config, tmp_path: Path) -> None:
    box = maildir(tmp_path / "B", [nested(5000), (SAMPLES / "exim-hard.eml").read_bytes()])
    result = CliRunner().invoke(main, ["bounces", "scan", str(box), "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "  skipped: more than 500 nested MIME parts" in result.output
    assert "bob@example.net  hard  5.1.1" in result.output
    assert result.output.rstrip().endswith("1 skipped (unreadable)")


@pytest.mark.usefixtures("backend")  # before `config`: it then reads that state
def test_a_complaint_about_our_message_suppresses_as_complaint(config: Config, db: journal.Db,
                                                               tmp_path: Path) -> None:
    sent_run(db, "2026-11", {"wes@isp.example": "<nl3.a4f0000000000000000c1@example.org>",
                             "uma@mail.example": "<nl3.5e5000000000000000b3@example.org>"})
    box = maildir(tmp_path / "B", [(WORLD / n).read_bytes() for n in ("arf-complaint.eml", "ses-complaint.eml")])
    result = CliRunner().invoke(main, ["bounces", "import", str(box), "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert suppressed(db) == {"wes@isp.example": "complaint", "uma@mail.example": "complaint"}
    assert "  complaints (suppressed as complaint): 2" in result.output.splitlines()


def test_a_complaint_about_a_message_we_never_sent_suppresses_nobody(config: Config, db: journal.Db,
                                                                    tmp_path: Path) -> None:
    """The report names wes, but returns no Message-ID of ours: nobody can be complained off the list."""
    sent_run(db, "2026-11", {"wes@isp.example": "<nl3.other@example.org>"})
    result = import_bounces(db, maildir(tmp_path / "B", [(WORLD / "arf-complaint.eml").read_bytes()]), config)
    assert suppressed(db) == {} and result.complaints == []


def unsubscribe_mail(sender: str, subject: str, body: str, to: str = "unsubscribe@example.org") -> bytes:
    return (f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{abs(hash((sender, subject, body)))}@x>\n"
            f"Date: Wed, 2 Dec 2026 10:00:00 +0000\n\n{body}\n").encode()


@pytest.mark.usefixtures("backend")  # before `config`: it then reads that state
def test_mail_to_the_unsubscribe_address_suppresses_as_unsubscribed(config: Config, db: journal.Db,
                                                                   tmp_path: Path) -> None:
    sent_run(db, "2026-11", {f"{n}@example.com": f"<nl1.{n}@example.org>" for n in ("ann", "ben", "cat", "dan")})
    token = make_token(SECRET, config.list_id, "dan@example.com")
    messages = [
        unsubscribe_mail("Ann <ann@example.com>", "unsubscribe", ""),  # what a mail client's button sends
        unsubscribe_mail("ben@example.com", "Re: the digest", "Unsubscribe me please\n\nBen"),
        unsubscribe_mail("dan.forwarded@elsewhere.example", "unsubscribe " + token, ""),  # the token decides
        # replies that quote our footer's "Unsubscribe" link ask nothing
        unsubscribe_mail("cat@example.com", "Re: the digest", "Thanks, great issue!\n\n> Unsubscribe: https://x"),
        # a stranger, never mailed, and a request to another address
        unsubscribe_mail("eve@example.com", "unsubscribe", ""),
        unsubscribe_mail("cat@example.com", "unsubscribe", "", to="digest@example.org"),
        # an auto-reply to the unsubscribe address changes nothing
        unsubscribe_mail("cat@example.com", "Automatic reply: unsubscribe", "I am away"),
    ]
    result = import_bounces(db, maildir(tmp_path / "B", messages), config)
    assert suppressed(db) == {"ann@example.com": "unsubscribed", "ben@example.com": "unsubscribed",
                              "dan@example.com": "unsubscribed"}
    assert sorted(result.unsubscribes) == ["ann@example.com", "ben@example.com", "dan@example.com"]
    assert result.auto_replies == 1
    sources = {s.key: s.source for s in journal.list_suppressions(db)}
    assert sources["dan@example.com"] == "mailto:its unsubscribe token"


def test_auto_replies_and_delivered_notices_change_nothing(config: Config, db: journal.Db,
                                                           tmp_path: Path) -> None:
    sent_run(db, "2026-11", {"xena@example.net": "<nl3.x@example.org>",
                             "val@mail.example": "<nl3.5e5000000000000000b4@example.org>"})
    names = ("delivered-notice.eml", "ses-delivery.eml", "auto-reply-rfc3834.eml")
    result = import_bounces(db, maildir(tmp_path / "B", [(WORLD / n).read_bytes() for n in names]), config)
    assert suppressed(db) == {}
    assert (result.delivered, result.auto_replies, result.hard, result.soft) == (2, 1, [], [])


@pytest.mark.usefixtures("backend")  # before `config`: it then reads that state
def test_an_old_bounce_replayed_after_a_good_delivery_changes_nothing(config: Config, db: journal.Db,
                                                                      tmp_path: Path) -> None:
    """Alice bounced in July and was suppressed; the officer lifted it; August was delivered
    (weeks ago, no bounce). July's bounce mailed in again under a new Message-ID changes nothing."""
    july = sent_run(db, "2023-07", {"alice@example.com": ALICE_ID}, when="2023-07-01T08:00:00+00:00")
    original = (SAMPLES / "postfix-hard.eml").read_bytes()
    import_bounces(db, maildir(tmp_path / "first", [original]), config)
    assert suppressed(db) == {"alice@example.com": "hard-bounce"}
    journal.unsuppress(db, "alice@example.com")
    sent_run(db, "2023-08", {"alice@example.com": "<nl2.a11ce@example.org>"}, when="2023-08-01T08:00:00+00:00")
    replay = original.replace(b"<20230802080114.4QxYz1Abcd@mail.example.org>", b"<replayed@attacker.example>")
    result = import_bounces(db, maildir(tmp_path / "replay", [replay]), config)
    assert suppressed(db) == {} and result.stale == 1
    assert list(result.applied.values()) == [STALE]
    assert july == 1


def test_a_redacted_complaint_is_tied_by_its_return_path(config: Config, db: journal.Db,
                                                         tmp_path: Path) -> None:
    """Many feedback loops strip the recipient and the message body: the VERP return path
    in Original-Mail-From still names the run and the recipient, and nobody can forge it."""
    run_id = sent_run(db, "2026-11", {"kim@isp.example": "<nl1.kim@example.org>"})
    genuine = verp_address(config.return_path, SECRET, run_id, "kim@isp.example")
    forged = verp_address(config.return_path, b"a guess", run_id, "kim@isp.example")

    def report(mail_from: str) -> bytes:
        return ("From: fbl@isp.example\nTo: digest@example.org\nSubject: complaint\nMIME-Version: 1.0\n"
                f"Message-ID: <{abs(hash(mail_from))}@isp.example>\n"
                "Content-Type: multipart/report; report-type=feedback-report; boundary=R\n\n"
                "--R\nContent-Type: text/plain\n\nA complaint.\n"
                f"--R\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n"
                f"Original-Mail-From: <{mail_from}>\n\n"
                "--R\nContent-Type: text/rfc822-headers\n\nSubject: redacted\n\n--R--\n").encode()

    result = import_bounces(db, maildir(tmp_path / "B", [report(forged)]), config)
    assert suppressed(db) == {} and result.complaints == []
    result = import_bounces(db, maildir(tmp_path / "C", [report(genuine)]), config)
    assert suppressed(db) == {"kim@isp.example": "complaint"} and result.complaints == ["kim@isp.example"]
