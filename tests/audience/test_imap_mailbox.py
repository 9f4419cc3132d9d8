"""Issue 27, point 5: `bounces import imaps://...` against a real Dovecot (tests/support/imapserver.py).

The import reads the unseen messages, acts on them, and marks each one read (or moves it):
a second run reads nothing twice. A scan leaves them unread.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.imapserver import Dovecot

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "bounces"
ALICE_ID = "<nl1.a11ce00000000000001@example.org>"  # what postfix-hard.eml returns


@pytest.fixture
def db(config: Config) -> journal.Db:
    db = journal.connect(config.state)
    run = journal.open_run(db, "2023-07", subject="digest", digest="d", subscribers="subscribers.csv")
    journal.apply_plan(db, run.id, new=[journal.NewRecipient("alice@example.com", "alice@example.com", "", None,
                                                             "pending", "", ALICE_ID)], wanted=[], skip=[])
    claimed = journal.checkpoint(db, run.id, [], claim=1)
    journal.checkpoint(db, run.id, [journal.Outcome(r.email, "sent", "250 ok") for r in claimed])
    return db


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["bounces", *args])
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.output


def test_an_imap_mailbox_is_read_once(dovecot: Dovecot, config: Config, db: journal.Db) -> None:
    dovecot.append((SAMPLES / "postfix-hard.eml").read_bytes(), (SAMPLES / "out-of-office.eml").read_bytes(),
                   b"From: x@example.com\nSubject: hostile\nMIME-Version: 1.0\n"
                   + b"Content-Type: multipart/mixed; boundary=b\n\n--b\n" * 600)
    scanned = run("scan", dovecot.url, "--config", str(config.path))
    assert "alice@example.com  hard  5.1.1" in scanned
    assert dovecot.count("UNSEEN") == 3  # a scan changes nothing, not even the \Seen flags
    first = run("import", dovecot.url, "--config", str(config.path))
    assert first.splitlines()[0] == f"Read 3 messages from imaps://bounces@localhost:{dovecot.port}/INBOX"
    assert {s.key: s.reason for s in journal.list_suppressions(db)} == {"alice@example.com": "hard-bounce"}
    assert "  imap UID 3: more than 500 nested MIME parts" in first.splitlines()  # skipped by UID
    assert dovecot.count("UNSEEN") == 0 and dovecot.count("SEEN") == 3
    dovecot.append((SAMPLES / "exim-hard.eml").read_bytes())
    second = run("import", dovecot.url, "--config", str(config.path))
    assert second.splitlines()[0].startswith("Read 1 message from imaps://")  # only the new one


def test_handled_messages_can_be_moved_to_a_folder(dovecot: Dovecot, config: Config, db: journal.Db) -> None:
    dovecot.create("Processed")
    dovecot.append((SAMPLES / "postfix-hard.eml").read_bytes())
    run("import", dovecot.url, "--move-to", "Processed", "--config", str(config.path))
    assert (dovecot.count(folder="INBOX"), dovecot.count(folder="Processed")) == (0, 1)
    assert run("import", dovecot.url, "--config", str(config.path)).startswith("Read 0 messages")


def test_the_certificate_is_verified_and_the_password_is_required(dovecot: Dovecot, config: Config,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))  # the system's CAs only
    untrusted = CliRunner().invoke(main, ["bounces", "import", dovecot.url, "--config", str(config.path)])
    assert untrusted.exit_code == 1 and "cannot connect" in untrusted.stderr and "CERTIFICATE_VERIFY_FAILED" in \
        untrusted.stderr
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", "wrong")
    wrong = CliRunner().invoke(main, ["bounces", "import", dovecot.url, "--config", str(config.path)])
    assert wrong.exit_code == 1 and "the IMAP server said" in wrong.stderr and "wrong" not in wrong.stderr
    monkeypatch.delenv("NEWSLETTER_IMAP_PASSWORD")
    missing = CliRunner().invoke(main, ["bounces", "import", dovecot.url, "--config", str(config.path)])
    assert missing.exit_code == 1 and "NEWSLETTER_IMAP_PASSWORD" in missing.stderr


def test_plain_imap_is_refused_off_this_machine(config: Config) -> None:
    refused = CliRunner().invoke(main, ["bounces", "scan", "imap://bounces@mail.example.org/INBOX",
                                        "--config", str(config.path)])
    assert refused.exit_code == 1 and "in the clear" in refused.stderr
    with_password = CliRunner().invoke(main, ["bounces", "scan", "imaps://bounces:hunter2@mail.example.org/INBOX",
                                              "--config", str(config.path)])
    assert with_password.exit_code == 1 and "hunter2" not in with_password.stderr
