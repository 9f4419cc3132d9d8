"""Bounce import: DSN and plain-text samples, matching, suppression, the soft-bounce limit."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import journal
from newsletter.audience.bounces import import_bounces
from newsletter.audience.verp import read_verp, tokens_for_run, verp_address
from newsletter.cli import main
from newsletter.config import Config, load_config

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "bounces"
# The Message-IDs `send` gave the July messages, as quoted back by the sample bounces.
JULY = {
    "alice@example.com": "<nl1.a11ce00000000000001@example.org>",
    "bob@example.net": "<nl1.b0b0000000000000002@example.org>",
    "carol@example.com": "<nl1.ca201000000000000003@example.org>",
    "dave@example.net": "<nl1.da4e00000000000004@example.org>",
    "erin@example.com": "<nl1.e41400000000000005@example.org>",
    "frank@example.com": "<nl1.f4a4c00000000000006@example.org>",
    "grace@example.com": "<nl1.94ace00000000000007@example.org>",
    "heidi@example.com": "<nl1.4e1d100000000000008@example.org>",
}
SOFT_ID = "<nl1.e41400000000000005@example.org>"
SECRET = b"bounce-test-secret"
OLD_VERP = b"digest+2023-07.dave=example.net@example.org"  # what qmail-plain.eml was delivered to


@pytest.fixture(autouse=True)
def token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secret `send` signed its VERP return paths with."""
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", SECRET.decode())


def with_genuine_verp(raw: bytes, run_id: int, email: str) -> bytes:
    """The sample delivered to the return path `send` gave `email` in run `run_id`."""
    return raw.replace(OLD_VERP, verp_address("digest@example.org", SECRET, run_id, email).encode())


def july_samples(run_id: int) -> list[bytes]:
    """Every sample, qmail's (which quotes no Message-ID) sent back to dave's genuine VERP path."""
    return [with_genuine_verp(raw, run_id, "dave@example.net") for raw in samples()]


def sent_run(db: journal.Db, slug: str, recipients: dict[str, str]) -> int:
    """A run whose recipients were all accepted by the server, as `send` records it."""
    run = journal.open_run(db, slug, subject=f"digest {slug}", digest="d", subscribers="subscribers.csv")
    journal.apply_plan(db, run.id, new=[journal.NewRecipient(e, e, "", None, "pending", "", mid)
                                        for e, mid in recipients.items()], wanted=[], skip=[])
    claimed = journal.checkpoint(db, run.id, [], claim=len(recipients))
    journal.checkpoint(db, run.id, [journal.Outcome(r.key, "sent", "250 2.0.0 queued") for r in claimed])
    return run.id


def maildir(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(raw)
    return path


def samples(*names: str) -> list[bytes]:
    return [(SAMPLES / name).read_bytes() for name in (names or sorted(p.name for p in SAMPLES.glob("*.eml")))]


def soft_bounce(original_id: str, n: int) -> bytes:
    """The Postfix mailbox-full DSN, for another message and with its own Message-ID."""
    raw = (SAMPLES / "postfix-soft.eml").read_bytes()
    return raw.replace(SOFT_ID.encode(), original_id.encode()).replace(b"SOFTBOUNCE", f"SOFT{n}".encode())


@pytest.fixture
def db(config: Config) -> journal.Db:
    return journal.connect(config.state)


def suppressed(db: journal.Db) -> dict[str, tuple[str, str]]:
    return {s.key: (s.reason, s.source) for s in journal.list_suppressions(db)}


def test_samples_suppress_exactly_the_hard_bounced_recipients(config: Config, db: journal.Db,
                                                              tmp_path: Path) -> None:
    run_id = sent_run(db, "2023-07", JULY)
    result = import_bounces(db, maildir(tmp_path / "Bounces", july_samples(run_id)), config)
    assert suppressed(db) == {
        "alice@example.com": ("hard-bounce", "bounce:5.1.1"),  # Postfix DSN, by Message-ID
        "bob@example.net": ("hard-bounce", "bounce:5.1.1"),  # classic Exim text, quoted headers
        "carol@example.com": ("hard-bounce", "bounce:5.1.1"),  # Gmail DSN, attached message
        "dave@example.net": ("hard-bounce", "bounce:5.1.1"),  # qmail text, genuine VERP return path only
    }
    assert result.messages == 8
    assert [m.email for m in result.soft] == ["erin@example.com"]  # mailbox full: counted, not suppressed
    assert result.delays == 1  # "Delayed Mail (still being retried)" for frank
    assert result.auto_replies == 1 and result.not_bounces == 0  # grace's out-of-office reply
    assert result.unmatched == [(result.unmatched[0][0], "stranger@example.com")]
    rows = db.execute("SELECT email, run_id, kind, status FROM bounces ORDER BY email").fetchall()
    assert [tuple(r) for r in rows] == [
        ("alice@example.com", run_id, "hard", "5.1.1"), ("bob@example.net", run_id, "hard", "5.1.1"),
        ("carol@example.com", run_id, "hard", "5.1.1"), ("dave@example.net", run_id, "hard", "5.1.1"),
        ("erin@example.com", run_id, "soft", "4.2.2"),
    ]
    assert journal.bounce_counts(db, run_id) == {"hard": 4, "soft": 1}


def test_importing_the_same_mailbox_again_changes_nothing(config: Config, db: journal.Db,
                                                          tmp_path: Path) -> None:
    run_id = sent_run(db, "2023-07", JULY)
    box = maildir(tmp_path / "Bounces", july_samples(run_id))
    import_bounces(db, box, config)
    before = (suppressed(db), db.execute("SELECT * FROM bounces ORDER BY key").fetchall())
    again = import_bounces(db, box, config)
    assert again.already == 5
    assert again.hard == [] and again.soft == [] and again.suppressed == []
    assert (suppressed(db), db.execute("SELECT * FROM bounces ORDER BY key").fetchall()) == before


def test_bounce_for_an_address_never_mailed_suppresses_nothing(config: Config, db: journal.Db,
                                                               tmp_path: Path) -> None:
    """Backscatter from spam forged in our name must not grow the list."""
    sent_run(db, "2023-07", JULY)
    result = import_bounces(db, maildir(tmp_path / "B", samples("unknown-recipient.eml")), config)
    assert suppressed(db) == {}
    assert [named for _, named in result.unmatched] == ["stranger@example.com"]


def test_soft_bounces_suppress_after_the_limit_in_a_row(config: Config, db: journal.Db,
                                                        tmp_path: Path) -> None:
    ids = {}
    for n, slug in enumerate(["2023-07", "2023-08", "2023-09"], start=1):
        ids[slug] = f"<nl{n}.soft@example.org>"
        sent_run(db, slug, {"erin@example.com": ids[slug], "ok@example.com": f"<nl{n}.ok@example.org>"})
    box = maildir(tmp_path / "B", [soft_bounce(ids["2023-07"], 1), soft_bounce(ids["2023-08"], 2)])
    import_bounces(db, box, config)
    assert journal.consecutive_soft_bounces(db, "erin@example.com") == 2
    assert suppressed(db) == {}
    box = maildir(tmp_path / "B", [soft_bounce(ids["2023-09"], 3)])
    result = import_bounces(db, box, config)
    assert result.suppressed == [("erin@example.com", "soft-bounces")]
    assert suppressed(db) == {"erin@example.com": ("soft-bounces", "bounce:4.2.2 (3 in a row)")}


def test_soft_limit_comes_from_the_config(project: Path, tmp_path: Path) -> None:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text() + "bounces: {soft_limit: 1}\n", encoding="utf-8")
    config = load_config(path)
    db = journal.connect(config.state)
    sent_run(db, "2023-07", JULY)
    import_bounces(db, maildir(tmp_path / "B", samples("postfix-soft.eml")), config)
    assert suppressed(db) == {"erin@example.com": ("soft-bounces", "bounce:4.2.2 (1 in a row)")}


def test_a_clean_send_resets_the_soft_bounce_count(config: Config, db: journal.Db,
                                                   tmp_path: Path) -> None:
    slugs = ["2023-05", "2023-06", "2023-07", "2023-08"]
    for n, slug in enumerate(slugs, start=1):
        sent_run(db, slug, {"erin@example.com": f"<nl{n}.erin@example.org>"})
    # bounced in May and June, delivered in July (no bounce came back), bounced in August
    box = maildir(tmp_path / "B", [soft_bounce("<nl1.erin@example.org>", 1), soft_bounce("<nl2.erin@example.org>", 2),
                                   soft_bounce("<nl4.erin@example.org>", 4)])
    import_bounces(db, box, config)
    assert journal.consecutive_soft_bounces(db, "erin@example.com") == 1
    assert suppressed(db) == {}


def test_two_soft_bounces_for_one_message_count_once(config: Config, db: journal.Db,
                                                     tmp_path: Path) -> None:
    sent_run(db, "2023-07", {"erin@example.com": SOFT_ID})
    import_bounces(db, maildir(tmp_path / "B", [soft_bounce(SOFT_ID, 1), soft_bounce(SOFT_ID, 2),
                                                soft_bounce(SOFT_ID, 3)]), config)
    assert journal.consecutive_soft_bounces(db, "erin@example.com") == 1
    assert suppressed(db) == {}


def test_dsn_without_the_original_or_a_return_path_suppresses_nobody(config: Config, db: journal.Db,
                                                                     tmp_path: Path) -> None:
    """Naming an address we mailed is not enough: anyone can write a DSN that names one.

    (Before issue 13 this matched by the failed address alone and suppressed heidi.)"""
    sent_run(db, "2023-07", {"heidi@example.com": JULY["heidi@example.com"]})
    bare = (SAMPLES / "unknown-recipient.eml").read_bytes().replace(b"stranger@", b"Heidi@")
    bare = bare.replace(b"Message-ID: <not-one-of-ours@example.org>", b"")
    result = import_bounces(db, maildir(tmp_path / "B", [bare]), config)
    assert suppressed(db) == {}
    assert [named for _, named in result.unmatched] == ["heidi@example.com"]
    assert result.scanned[0].reason == "ignored: not a bounce of a message we sent"


def test_verp_addresses_round_trip(db: journal.Db) -> None:
    sender = "digest@example.org"
    emails = ["alice@example.com", "first.last+news@sub.example.co.uk", "odd=name@example.net"]
    tokens = tokens_for_run([b"old-secret", SECRET], 12, emails)
    for email in emails:
        address = verp_address(sender, SECRET, 12, email)
        assert address.startswith("digest+b12-") and address.endswith("@example.org")
        assert len(address.partition("@")[0]) <= 64  # a local part's limit, however long the address
        run_id, token = read_verp(address.upper(), sender)  # some servers change the case
        assert run_id == 12 and tokens[token] == email
    assert read_verp("digest@example.org", sender) is None
    assert read_verp("someone+b12-aaaaaaaaaaaaaaaa@example.org", sender) is None
    assert read_verp(OLD_VERP.decode(), sender) is None
    forged = verp_address(sender, b"an attacker's guess", 12, "alice@example.com")
    assert read_verp(forged, sender)[1] not in tokens


def test_bounces_import_command_reports_what_it_did(config: Config, db: journal.Db, tmp_path: Path) -> None:
    run_id = sent_run(db, "2023-07", JULY)
    box = maildir(tmp_path / "Bounces", july_samples(run_id))
    result = CliRunner().invoke(main, ["bounces", "import", str(box), "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Read 8 messages from {box}"
    assert "  hard bounces: 4" in lines
    assert any(line.startswith("    alice@example.com  5.1.1  550 5.1.1") for line in lines)
    assert "  soft bounces: 1 (suppressed after 3 in a row)" in lines
    assert any(line.startswith("    erin@example.com  4.2.2  1 in a row") for line in lines)
    assert "  suppressed now: 4 (4 hard, 0 after repeated soft bounces)" in lines
    assert "  delay warnings (not bounces yet): 1" in lines
    assert "  auto-replies (change nothing): 1" in lines
    assert any(line.startswith("    stranger@example.com  (") for line in lines)
    again = CliRunner().invoke(main, ["bounces", "import", str(box), "--config", str(config.path)])
    assert "  already imported: 5" in again.output.splitlines()


def test_bounces_import_of_a_folder_that_is_not_a_maildir(config: Config, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    result = CliRunner().invoke(main, ["bounces", "import", str(tmp_path / "folder"), "--config", str(config.path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'folder'}: not a Maildir (no cur/ or new/ folder)")


def test_an_mbox_file_works_too(config: Config, db: journal.Db, tmp_path: Path) -> None:
    sent_run(db, "2023-07", JULY)
    box = mailbox.mbox(tmp_path / "bounces.mbox", create=True)
    for raw in samples("exim-hard.eml", "out-of-office.eml"):
        box.add(raw)
    box.flush()
    result = import_bounces(db, tmp_path / "bounces.mbox", config)
    assert (result.messages, result.auto_replies) == (2, 1)
    assert suppressed(db) == {"bob@example.net": ("hard-bounce", "bounce:5.1.1")}
