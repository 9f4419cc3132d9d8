"""Relays that misbehave on purpose (issue 26): every journal state matches what the server did.

Each test sends a real issue through `send` (real SQLite journal) to the scripted raw-socket
server (support/rawsmtp.py) and compares, recipient by recipient, what the journal says with
what the server actually accepted or refused: nobody `sent` the server did not accept,
nobody `failed` or suppressed on a reply that was somebody else's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.rawsmtp import ScriptedSmtp
from support.sendkit import make_project, rows, send, smtp_block, write_csv

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config
from newsletter.daterange import parse_range
from newsletter.issue import BuildResult, build_issue
from newsletter.send import SendReport

pytestmark = pytest.mark.usefixtures("token_secret")

UNKNOWN = "550 5.1.1 no such user here"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_issue(make_project(tmp_path_factory.mktemp("build") / "digest"), parse_range("2023-07", None, None))


def run(tmp_path: Path, built: BuildResult, server: ScriptedSmtp, people: int, **smtp: Any) -> tuple[Config, SendReport]:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, **smtp))
    return config, send(config, built, write_csv(config.root, people))


def suppressed(config: Config) -> set[str]:
    db = journal.connect(config.state)
    try:
        return {s.key for s in journal.list_suppressions(db)}
    finally:
        db.close()


def assert_journal_matches(config: Config, server: ScriptedSmtp) -> dict[str, journal.RecipientRow]:
    """The journal against the server: sent iff accepted; failed only on a refusal it really sent."""
    journaled = rows(config)
    accepted = set(server.accepted)
    for email, row in journaled.items():
        if row.state == "sent":
            assert email in accepted, f"{email} journaled sent, never accepted"
        if email in accepted:
            assert row.state == "sent", f"{email} accepted, journaled {row.state} ({row.reply})"
        if row.state == "failed":
            assert row.reply in server.refusals[email], f"{email} failed on {row.reply!r}, not its own reply"
    assert not suppressed(config) & accepted, "a delivered address was suppressed"
    return journaled


def unknown_every(n: int) -> Any:
    """RCPT refused (550 5.1.1) for every n-th address, accepted for the rest."""
    return lambda address, attempt: UNKNOWN if int(address[4:].split("@")[0]) % n == 3 else "250 2.1.5 ok"


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-at-a-time"])
def test_a_duplicated_reply_after_every_10th_message_shifts_nothing(tmp_path: Path, built: BuildResult,
                                                                     pipelining: bool) -> None:
    """The issue's server: `250 queued` twice after every 10th message, concurrency 1."""
    def after(address: str, n: int) -> list[str]:
        return ["250 2.0.0 queued", "250 2.0.0 queued"] if n % 10 == 0 else ["250 2.0.0 queued"]

    with ScriptedSmtp(pipelining=pipelining, rcpt=unknown_every(7), after_message=after) as server:
        config, report = run(tmp_path, built, server, 60, concurrency=1, retries=5, max_connection_failures=10)
    journaled = assert_journal_matches(config, server)
    refused = {f"user{i}@example.org" for i in range(60) if i % 7 == 3}
    assert {e for e, r in journaled.items() if r.state == "failed"} == refused
    assert {e for e, r in journaled.items() if r.state == "sent"} == {f"user{i}@example.org" for i in range(60)} - refused
    assert suppressed(config) == refused  # exactly the addresses the server said do not exist
    assert report.complete
    # a message answered twice is reported as possibly delivered twice, never silently
    doubled = {e for e in set(server.accepted) if server.accepted.count(e) > 1}
    assert doubled and doubled <= {e for e, r in journaled.items() if r.possible_duplicate}


@pytest.mark.parametrize("how", ["split", "merge"])
def test_replies_split_into_pieces_or_merged_into_one_packet_are_read_right(tmp_path: Path, built: BuildResult,
                                                                             how: str) -> None:
    with ScriptedSmtp(rcpt=unknown_every(5), **{how: True}) as server:
        config, report = run(tmp_path, built, server, 12, concurrency=2)
    journaled = assert_journal_matches(config, server)
    assert report.complete and report.sent == len(set(server.accepted)) == 10
    assert {r.state for r in journaled.values()} == {"sent", "failed"} and not report.possible_duplicates


def test_a_multi_line_greeting_is_one_reply(tmp_path: Path, built: BuildResult) -> None:
    with ScriptedSmtp(greeting=b"220-scripted.test ESMTP\r\n220-no UCE\r\n220 welcome\r\n") as server:
        config, report = run(tmp_path, built, server, 5)
    assert report.complete and report.sent == 5
    assert_journal_matches(config, server)


def test_two_greetings_are_a_protocol_error_not_everyone_failed(tmp_path: Path, built: BuildResult) -> None:
    """A second 220 would be read as the reply to EHLO, and every later reply shifted by one."""
    with ScriptedSmtp(greeting=b"220 scripted.test ESMTP\r\n220 scripted.test ready\r\n") as server:
        config, report = run(tmp_path, built, server, 4)
    journaled = assert_journal_matches(config, server)
    assert not server.accepted and {r.state for r in journaled.values()} <= {"pending", "deferred"}
    assert not report.complete and report.stopped and "protocol error" in report.stopped
    assert not suppressed(config)


@pytest.mark.parametrize("wrong", ["250 2.0.0 ok", "220 hello again"])
def test_a_reply_data_cannot_get_is_retried_not_taken_as_an_outcome(tmp_path: Path, built: BuildResult,
                                                                    wrong: str) -> None:
    """DATA answered with a 250 (or a greeting) the first time: out of step, so the job is tried again."""
    with ScriptedSmtp(data=lambda address, attempt: wrong if attempt == 1 else "354 go ahead") as server:
        config, report = run(tmp_path, built, server, 3, retries=4, max_connection_failures=5)
    journaled = assert_journal_matches(config, server)
    assert report.complete and {r.state for r in journaled.values()} == {"sent"}
    assert all(server.data_attempts[e] == 2 for e in journaled)
    assert sorted(server.accepted) == sorted(journaled)  # each delivered once: the body never went the first time


def test_an_accepted_data_after_a_refused_rcpt_is_not_the_outcome(tmp_path: Path, built: BuildResult) -> None:
    """Pipelined: RCPT refused, then a 2xx where DATA's refusal belongs: nobody fails on that exchange."""
    def data(address: str, attempt: int) -> str:
        return "354 go ahead"

    with ScriptedSmtp(rcpt=lambda a, n: UNKNOWN if a == "user1@example.org" else "250 ok", data=data) as server:
        config, report = run(tmp_path, built, server, 3)
    journaled = assert_journal_matches(config, server)
    assert journaled["user1@example.org"].state == "failed" and report.complete
    assert suppressed(config) == {"user1@example.org"}


def test_452_too_many_recipients_defers_that_recipient_and_keeps_the_pace(tmp_path: Path, built: BuildResult) -> None:
    too_many = "452 4.5.3 too many recipients"
    full = {"user1@example.org", "user4@example.org"}
    with ScriptedSmtp(rcpt=lambda a, n: too_many if n == 1 and a in full else "250 2.1.5 ok") as server:
        config, report = run(tmp_path, built, server, 12, retry_delay=0.05, rate=500)
    journaled = assert_journal_matches(config, server)
    assert report.complete and {r.state for r in journaled.values()} == {"sent"}
    assert not report.slowdowns and report.recipient_deferrals == 2
    assert journaled["user4@example.org"].attempts == 2


@pytest.mark.parametrize("stage", ["greeting", "EHLO", "AUTH", "MAIL", "RCPT", "DATA"])
def test_a_relay_silent_at_any_stage_stops_the_run_naming_the_stage(tmp_path: Path, built: BuildResult,
                                                                     stage: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "not-a-real-password")
    with ScriptedSmtp(silent_at=stage) as server:
        config, report = run(tmp_path, built, server, 3, timeout=0.5, max_connection_failures=5, username="digest")
    journaled = assert_journal_matches(config, server)
    assert not server.accepted and {r.state for r in journaled.values()} == {"pending"}
    assert report.fatal and report.stopped
    named = {"greeting": "sent no greeting", "EHLO": "at EHLO", "AUTH": "at AUTH", "MAIL": "MAIL FROM",
             "RCPT": "RCPT TO", "DATA": "reply to DATA"}[stage]
    assert named in report.stopped
    assert server.silences <= 2  # it stopped at the first silence (one per connection), not five times each


def test_a_relay_silent_after_the_message_leaves_it_uncertain_never_sent(tmp_path: Path, built: BuildResult) -> None:
    with ScriptedSmtp(silent_at="message") as server:
        config, report = run(tmp_path, built, server, 2, timeout=0.25, retries=2, max_connection_failures=2,
                             concurrency=1)
    journaled = assert_journal_matches(config, server)
    assert not any(r.state == "sent" for r in journaled.values())
    assert journaled["user0@example.org"].possible_duplicate and not report.complete


def test_the_cli_says_one_error_line_naming_the_greeting(tmp_path: Path, built: BuildResult) -> None:
    with ScriptedSmtp(silent_at="greeting") as server:
        config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, timeout=0.5))
        csv = write_csv(config.root, 2)
        result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--subscribers",
                                           str(csv), "--yes"])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1, result.output
    assert len(errors) == 1 and "accepted the connection but sent no greeting within 0.5 s" in errors[0]
    assert "Traceback" not in result.output


def test_while_a_relay_is_silent_the_progress_says_what_it_waits_for(tmp_path: Path, built: BuildResult) -> None:
    from support.sendkit import plan_send

    from newsletter.send import send_issue

    with ScriptedSmtp(silent_at="EHLO") as server:
        config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, timeout=0.5))
        waits: list[str] = []
        send_issue(plan_send(config, built, write_csv(config.root, 2)), handle_signals=False,
                   on_wait=waits.append)
    assert f"connecting to 127.0.0.1:{server.port}" in waits
    assert f"waiting for 127.0.0.1:{server.port} to answer EHLO" in waits and waits[-1] == ""


def test_a_421_announced_right_after_a_250_keeps_the_message_sent(tmp_path: Path, built: BuildResult) -> None:
    """RFC 5321 lets a server say 421 at any moment: after a 250 it is a goodbye, not a second reply."""
    def after(address: str, n: int) -> list[str]:
        return ["250 2.0.0 queued", "421 4.7.0 enough for this connection"] if n % 3 == 0 else ["250 2.0.0 queued"]

    with ScriptedSmtp(after_message=after) as server:
        config, report = run(tmp_path, built, server, 9, concurrency=1)
    journaled = assert_journal_matches(config, server)
    assert report.complete and not report.possible_duplicates and server.accepted.count("user2@example.org") == 1
    assert {r.state for r in journaled.values()} == {"sent"} and server.connections >= 3
