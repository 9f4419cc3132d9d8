"""The send stage end to end: messages as subscribers get them, the journal, resume, the CLI.

Real parts only: an aiosmtpd server on 127.0.0.1 (in a thread, or the embedded outbox),
a real SQLite state file (and, for the key tests, a real PostgreSQL database),
`newsletter send` run in-process with CliRunner or as a subprocess that is killed with SIGKILL / interrupted with SIGINT mid-run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.sendkit import REPO, SECRET, make_project, plan_send, rows, send, smtp_block, states, write_csv
from support.smtpserver import FaultyHandler, SmtpServer, free_port

from newsletter import journal
from newsletter.cli import main
from newsletter.daterange import parse_range
from newsletter.issue import BuildResult, build_issue
from newsletter.send.run import dry_run
from newsletter.send.testsend import send_test
from newsletter.tokens import read_token

pytestmark = pytest.mark.usefixtures("token_secret")  # the secret a real send has

JULY = parse_range("2023-07", None, None)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build_issue(make_project(tmp_path_factory.mktemp("build") / "digest"), JULY)


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def raw_messages(handler: FaultyHandler) -> dict[str, bytes]:
    return {rcpt: content for rcpt, content in handler.messages}


# --- messages ---------------------------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_each_recipient_gets_one_complete_personal_message(tmp_path: Path, server: SmtpServer,
                                                           built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    people = [("amira.khan@example.org", "Amira Khan"), ("zoe.mueller@example.de", "Zoë Müller"),
              ("j.obrien@example.org", "O'Brien, Jo")]
    report = send(config, built, write_csv(config.root, people))
    assert report.sent == 3 and report.complete
    messages = raw_messages(server.handler)
    assert sorted(messages) == sorted(email for email, _ in people)
    journal_rows = rows(config)
    seen_ids = set()
    for email, name in people:
        raw = messages[email]
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        msg = parse(raw)
        assert (msg["To"].addresses[0].display_name, msg["To"].addresses[0].addr_spec) == (name, email)
        assert msg["Subject"] == built.rendered.subject
        assert msg["Date"] and msg["List-Id"] == f"Safeguarding digest <{config.list_id}>"
        assert re.search(rb"^Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r$", raw, re.M)
        message_id = msg["Message-ID"]
        assert re.fullmatch(r"<nl\d+\.[0-9a-f]{20}@example\.org>", message_id)
        assert journal_rows[email].message_id == message_id
        seen_ids.add(message_id)
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert https.startswith("https://example.org/unsubscribe?t=")
        token = https.split("t=", 1)[1]
        assert mailto == f"mailto:unsubscribe@example.org?subject=unsubscribe%20{token}"  # bounces import reads it
        assert read_token(https.split("t=", 1)[1], config.list_id, [SECRET.encode()]) == email
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert f"Hello {name.split()[0] if ',' not in name else 'Jo'}," in text and https in text  # given names
        assert https.replace("&", "&amp;") in html or https in html
        dotted = [line for line in built.rendered.html.splitlines() if line.startswith(".")]
        assert dotted and all(line in html.splitlines() for line in dotted)  # dot-stuffing undone exactly
    assert len(seen_ids) == 3


def test_a_first_name_column_is_what_the_greeting_uses(tmp_path: Path, server: SmtpServer,
                                                       built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    csv = config.root / "subscribers.csv"
    csv.write_text('email,name,first_name\njo@example.org,"O\'Brien, Joanna",Jo\n'
                   'amira@example.org,Dr Amira Khan,\n', encoding="utf-8")
    assert send(config, built, csv).sent == 2
    messages = raw_messages(server.handler)
    greetings = {}
    for address, raw in messages.items():
        text = parse(raw).get_body(("plain",)).get_content().replace("\r\n", "\n")
        greetings[address] = re.search(r"^Hello [^\n]*,$", text, re.M).group(0)  # type: ignore[union-attr]
    assert greetings == {"jo@example.org": "Hello Jo,", "amira@example.org": "Hello Dr Khan,"}
    assert parse(messages["jo@example.org"])["To"].addresses[0].display_name == "O'Brien, Joanna"


def test_names_cannot_inject_headers(tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    csv = config.root / "subscribers.csv"
    csv.write_text('email,name\neve@example.org,"Eve\r\nBcc: victim@example.org\r\n\r\nbody"\n'
                   'quote@example.org,"Jo ""The Boss"" <boss@example.org>"\n', encoding="utf-8")
    assert send(config, built, csv).sent == 2
    messages = raw_messages(server.handler)
    assert set(messages) == {"eve@example.org", "quote@example.org"}
    eve = parse(messages["eve@example.org"])
    assert eve["Bcc"] is None and [a.addr_spec for a in eve["To"].addresses] == ["eve@example.org"]
    assert eve["To"].addresses[0].display_name == "Eve Bcc: victim@example.org body"
    quote = parse(messages["quote@example.org"])
    assert [a.addr_spec for a in quote["To"].addresses] == ["quote@example.org"]
    assert quote["To"].addresses[0].display_name == 'Jo "The Boss" <boss@example.org>'


def test_dot_stuffing_done_ahead_equals_stuffing_each_message(tmp_path: Path, built: BuildResult) -> None:
    """The fast path (static parts stuffed once) must give exactly the bytes SMTP needs."""
    from newsletter.audience import Subscriber
    from newsletter.send.messages import Composer, TemplateCache

    config = make_project(tmp_path / "digest")
    composer = Composer(config, TemplateCache(built.rendered, config), [SECRET.encode()], None)
    people = [Subscriber(f"{'r' * n}@example.org", name) for n in range(1, 40)
              for name in ("", "." * 90, f"{'x' * 66}.. dots at the wrap", "Zoë .Müller")]
    stuffed_values = 0
    for person in people:
        plain = composer.message(person, "<id@example.org>", "Thu, 01 Jan 2026 00:00:00 +0000")
        wire, stuffed = composer.wire(person, "<id@example.org>", "Thu, 01 Jan 2026 00:00:00 +0000")
        assert stuffed and wire == plain.replace(b"\r\n.", b"\r\n..")
        static = composer.message(Subscriber(person.email), "<id@example.org>", "Thu, 01 Jan 2026 00:00:00 +0000")
        stuffed_values += plain.count(b"\r\n.") > static.count(b"\r\n.")
    assert stuffed_values  # some names really put a dot at the start of a line


# --- the journal: exclusions and resume ------------------------------------------------


@pytest.mark.usefixtures("backend")
def test_suppressed_and_unsubscribed_are_skipped_and_counted(tmp_path: Path, server: SmtpServer,
                                                             built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    db = journal.connect(config.state)
    journal.suppress(db, "User1@example.org", "unsubscribed", "one-click")
    db.close()
    csv = write_csv(config.root, 3)
    with csv.open("a") as fh:
        fh.write("gone@example.org,Gone,\n")
    csv.write_text(csv.read_text().replace("email,name", "email,name,status").replace(",Gone,", ",Gone,unsubscribed"))
    plan = plan_send(config, built, csv)
    assert plan.to_send == 2
    assert plan.excluded == {"suppressed (unsubscribed)": 1, "unsubscribed in the list": 1}
    report = send(config, built, csv)
    assert report.sent == 2 and set(server.handler.counts()) == {"user0@example.org", "user2@example.org"}
    journal_rows = rows(config)
    assert (journal_rows["user1@example.org"].state, journal_rows["user1@example.org"].reply) == \
        ("skipped", "suppressed (unsubscribed)")
    assert journal_rows["gone@example.org"].state == "skipped"


@pytest.mark.usefixtures("backend")
def test_resume_sends_only_to_new_rows(tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    csv = write_csv(config.root, 3)
    assert send(config, built, csv).sent == 3
    write_csv(config.root, 5)  # two subscribers joined since
    plan = plan_send(config, built, csv)
    assert (plan.to_send, plan.new, plan.already_sent) == (2, 2, 3)
    assert send(config, built, csv).sent == 2
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(5)}


def test_rows_removed_from_the_list_before_a_resume_are_not_sent(tmp_path: Path, built: BuildResult) -> None:
    port = free_port()
    config = make_project(tmp_path / "digest", smtp=smtp_block(port))
    csv = write_csv(config.root, 4)
    assert not send(config, built, csv).complete  # server down: all still pending
    write_csv(config.root, [("user0@example.org", "User 0"), ("user1@example.org", "User 1")])
    with SmtpServer(port=port) as server:
        report = send(config, built, csv)
    assert report.sent == 2 and set(server.handler.counts()) == {"user0@example.org", "user1@example.org"}
    assert states(config)["user3@example.org"] == "skipped"
    assert rows(config)["user3@example.org"].reply == "no longer in the list"


def test_dry_run_composes_everything_and_touches_nothing(tmp_path: Path, built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(free_port()))
    plan = plan_send(config, built, write_csv(config.root, 20))
    checked = dry_run(plan)
    assert checked.messages == 20 and checked.longest_line <= 998 and not checked.over_limit
    db = journal.connect(config.state)
    assert journal.list_runs(db) == []
    db.close()


# --- test sends ------------------------------------------------------------------------


def test_send_test_goes_to_the_outbox_with_a_test_subject_and_leaves_the_run_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_TOKEN_SECRET")  # the embedded default makes its own
    config = make_project(tmp_path / "digest")
    report = send_test(config, build_issue(config, JULY), ["me@example.org", "Me@Example.org", "you@example.org"])
    assert report.sent == 2 and report.outbox == config.outbox_dir and "no mail left this machine" in str(report)
    files = sorted((config.outbox_dir / "new").iterdir())
    subjects = {parse(f.read_bytes())["Subject"] for f in files}
    assert subjects == {"[TEST] Safeguarding digest: what's new in July 2023"}
    assert {parse(f.read_bytes())["Delivered-To"] for f in files} == {"me@example.org", "you@example.org"}
    db = journal.connect(config.state)
    assert journal.list_runs(db) == []
    db.close()


def test_send_test_through_a_relay_reports_a_refusal(tmp_path: Path, server: SmtpServer) -> None:
    server.handler.rcpt_replies["me@example.org"] = ["550 5.1.1 no such user"]
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    report = send_test(config, build_issue(config, JULY), ["me@example.org"])
    assert report.sent == 0 and report.failed == 1
    assert "me@example.org: 550 5.1.1 no such user" in str(report)


# --- the CLI ---------------------------------------------------------------------------


def test_cli_default_sends_into_the_local_outbox_and_says_so(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_TOKEN_SECRET")
    config = make_project(tmp_path / "digest")
    csv = config.root / "subscribers.example.csv"
    csv.write_bytes((REPO / "subscribers.example.csv").read_bytes())
    result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--subscribers", str(csv),
                                       "--yes"])
    assert result.exit_code == 0, result.output
    assert "To send: 5" in result.output
    assert "skipped line 9: not a valid address" in result.output
    assert "excluded: 1 duplicate row\n" in result.output and "excluded: 1 unsubscribed in the list" in result.output
    assert result.output.lower().count("no mail leaves this machine") == 1  # said once per plan
    assert f"No mail left this machine: the messages are in {config.outbox_dir}/new/" in result.output
    assert len(list((config.outbox_dir / "new").iterdir())) == 5
    assert "This is a rehearsal" in result.output
    again = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--subscribers", str(csv),
                                      "--yes"])
    assert again.exit_code == 0 and "To send: 5" in again.output  # a rehearsal can be repeated freely
    assert len(list((config.outbox_dir / "new").iterdir())) == 10


@pytest.mark.usefixtures("backend")
def test_a_rehearsal_then_a_relay_send_delivers_to_every_subscriber(tmp_path: Path, server: SmtpServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The docs' flow: send the month into the outbox first, then add `smtp:` and send for real."""
    monkeypatch.delenv("NEWSLETTER_TOKEN_SECRET")
    config = make_project(tmp_path / "digest")
    csv = write_csv(config.root, 4)
    argv = ["send", "2023-07", "--config", str(config.path), "--subscribers", str(csv), "--yes"]
    rehearsal = CliRunner().invoke(main, argv)
    assert rehearsal.exit_code == 0, rehearsal.output
    assert len(list((config.outbox_dir / "new").iterdir())) == 4 and not server.handler.messages
    status = CliRunner().invoke(main, ["status", "--config", str(config.path)])
    assert "2023-07 (rehearsal): started" in status.output and "4 sent" in status.output

    real = CliRunner().invoke(main, [*argv, "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port)])
    assert real.exit_code == 0, real.output
    assert "This is the real send, through 127.0.0.1:" in real.output and "does not count" in real.output
    assert "To send: 4" in real.output and "Resuming" not in real.output
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(4)}
    assert {r.state for r in rows(config).values()} == {"sent"}
    assert {r.relay for r in rows(config).values()} == {f"127.0.0.1:{server.port}"}
    assert {r.relay for r in rows(config, kind=journal.RunKind.REHEARSAL).values()} == {"outbox"}

    status = CliRunner().invoke(main, ["status", "--config", str(config.path)])
    lines = status.output.splitlines()
    assert any(line.startswith("2023-07: started") and "4 sent" in line for line in lines)
    assert any(line.startswith("2023-07 (rehearsal): started") for line in lines)
    one = CliRunner().invoke(main, ["status", "2023-07", "--config", str(config.path)])
    assert "(real send)" in one.output and f"Accepted by: 127.0.0.1:{server.port} (4)" in one.output
    assert "Also rehearsed" in one.output
    again = CliRunner().invoke(main, [*argv, "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port)])
    assert again.exit_code == 0 and "Nothing to send." in again.output  # the real run never mails twice
    assert len(server.handler.messages) == 4


def test_cli_refuses_without_a_terminal_or_yes(tmp_path: Path, server: SmtpServer) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    csv = write_csv(config.root, 2)
    result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path)])
    assert result.exit_code == 1
    assert "error: not sending without confirmation, and there is no terminal to ask on (add --yes" in result.output
    assert "To send: 2" in result.output and server.handler.messages == []
    assert csv.exists()


def test_cli_dry_run_and_test_addresses(tmp_path: Path, server: SmtpServer) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    write_csv(config.root, 3)
    result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run: composed 3 messages" in result.output and server.handler.messages == []
    result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path),
                                       "--test", "a@example.org,b@example.org", "--test", "c@example.org"])
    assert result.exit_code == 0, result.output
    assert sorted(server.handler.counts()) == ["a@example.org", "b@example.org", "c@example.org"]
    assert all(parse(c)["Subject"].startswith("[TEST] ") for _, c in server.handler.messages)
    bad = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--test", "nope"])
    assert bad.exit_code == 1 and "error: --test: not a valid test address 'nope'" in bad.output


def test_cli_exit_status_and_resume_command_when_the_server_is_busy(tmp_path: Path) -> None:
    with SmtpServer(busy_connections=100) as busy:  # 421 at every greeting: a passing outage, retried
        config = make_project(tmp_path / "digest", smtp=smtp_block(busy.port))
        write_csv(config.root, 2)
        args = ["send", "2023-07", "--config", str(config.path), "--yes"]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    assert "Stopped: 3 connection failures in a row to 127.0.0.1" in result.output
    assert "To resume: newsletter " in result.output


def test_cli_server_down_at_the_start_is_one_error_naming_the_port(tmp_path: Path) -> None:
    port = free_port()
    config = make_project(tmp_path / "digest", smtp=smtp_block(port))
    write_csv(config.root, 2)
    result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--yes"])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: smtp.port: 127.0.0.1 refused the connection on port {port}: nothing listens "
                      "there; check the port (587 for starttls, 465 for tls) and the host"]
    assert "Nothing was sent. Once that is fixed, resume with: newsletter " in result.output
    assert set(states(config).values()) == {"pending"}


@pytest.mark.usefixtures("backend")
def test_status_lists_states_failures_and_exports_them(tmp_path: Path, server: SmtpServer,
                                                       built: BuildResult) -> None:
    server.handler.rcpt_replies["user1@example.org"] = ["550 5.1.1 no such user"]
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    send(config, built, write_csv(config.root, 3))
    runner = CliRunner()
    out_csv = tmp_path / "failures.csv"
    result = runner.invoke(main, ["status", "2023-07", "--config", str(config.path), "--failures-csv", str(out_csv)])
    assert result.exit_code == 0, result.output
    assert re.search(r"sent\s+│\s+2", result.output) and re.search(r"failed\s+│\s+1", result.output)
    assert "failed: user1@example.org: 550 5.1.1 no such user" in result.output
    assert out_csv.read_text().splitlines() == ["email,name,state,attempts,reply",
                                                "user1@example.org,User 1,failed,1,550 5.1.1 no such user"]
    listing = runner.invoke(main, ["status", "--config", str(config.path)])
    assert "2023-07: started" in listing.output and "2 sent, 1 failed" in listing.output
    missing = runner.invoke(main, ["status", "2023-08", "--config", str(config.path)])
    assert missing.exit_code == 1 and "no send run for 2023-08" in missing.output


# --- killed and interrupted runs ---------------------------------------------------------


def _start_send(config_path: Path, csv: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "newsletter", "send", "2023-07", "--yes", "--config",
                             str(config_path), "--subscribers", str(csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for(handler: FaultyHandler, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(handler.messages) < count:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the send never got going"
        time.sleep(0.01)


@pytest.mark.usefixtures("backend")
def test_sigkill_mid_run_then_resume_loses_nobody_and_reports_the_duplicates(tmp_path: Path,
                                                                             server: SmtpServer) -> None:
    server.handler.data_delay = 0.01
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, concurrency=4))
    total = 300
    csv = write_csv(config.root, total)
    process = _start_send(config.path, csv)
    _wait_for(server.handler, 60, process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    left = Counter(states(config).values())
    assert left.get("sent", 0) < total and left.get("sending", 0) > 0
    server.handler.data_delay = 0
    resumed = _start_send(config.path, csv)
    output = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, output
    in_flight = int(re.search(r"(\d+) recipients? (?:were|was) in flight when the last run stopped", output).group(1))
    counts = server.handler.counts()
    assert set(counts) == {f"user{i}@example.org" for i in range(total)}  # nobody lost
    twice = {address for address, n in counts.items() if n > 1}
    flagged = {email for email, row in rows(config).items() if row.possible_duplicate}
    assert max(counts.values()) <= 2
    assert twice <= flagged and len(flagged) == in_flight == left["sending"]
    assert set(states(config).values()) == {"sent"}


def test_ctrl_c_finishes_in_flight_records_them_and_prints_the_resume_command(tmp_path: Path,
                                                                              server: SmtpServer) -> None:
    server.handler.data_delay = 0.01
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, concurrency=4))
    csv = write_csv(config.root, 300)
    process = _start_send(config.path, csv)
    _wait_for(server.handler, 40, process)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    assert "stopping: finishing the messages in flight" in output
    assert f"To resume: newsletter send 2023-07 --yes --config {config.path} --subscribers {csv}" in output
    journal_states = states(config)
    assert "sending" not in journal_states.values()
    assert sum(1 for s in journal_states.values() if s == "sent") == len(server.handler.messages)
    resumed = _start_send(config.path, csv)
    assert resumed.wait(120) == 0
    assert server.handler.counts() == {f"user{i}@example.org": 1 for i in range(300)}


@pytest.mark.usefixtures("backend")
def test_a_real_run_resumes_through_another_relay_and_each_row_says_which_accepted_it(
        tmp_path: Path, server: SmtpServer, built: BuildResult) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    first = send(config, built, write_csv(config.root, 2))
    assert first.sent == 2
    with SmtpServer() as other:  # the first relay failed: the officer switches to another
        csv = write_csv(config.root, 4)
        second = send(config, built, csv, smtp_host="127.0.0.1", smtp_port=other.port)
        assert second.sent == 2 and second.already_sent == 2 and second.complete
        assert sorted(other.handler.counts()) == ["user2@example.org", "user3@example.org"]
        assert {email: r.relay for email, r in rows(config).items()} == {
            "user0@example.org": f"127.0.0.1:{server.port}", "user1@example.org": f"127.0.0.1:{server.port}",
            "user2@example.org": f"127.0.0.1:{other.port}", "user3@example.org": f"127.0.0.1:{other.port}"}
        plan = plan_send(config, built, csv, smtp_host="127.0.0.1", smtp_port=other.port)
        assert plan.to_send == 0 and plan.relays == {f"127.0.0.1:{server.port}": 2, f"127.0.0.1:{other.port}": 2}
