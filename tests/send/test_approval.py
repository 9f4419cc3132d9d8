"""Approve, then schedule (issue 30): a scheduled send goes only as approved, at its time.

Real parts: an aiosmtpd server on 127.0.0.1, a real SQLite state file, `newsletter`
run in-process with CliRunner (the waiting is real, a few seconds).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.sendkit import make_project, smtp_block, write_csv
from support.smtpserver import SmtpServer

from newsletter.cli import main
from newsletter.config import Config
from newsletter.send.approval import compare_records
from newsletter.send.clock import MissedSchedule, describe, parse_at, wait_until

pytestmark = pytest.mark.usefixtures("token_secret")

ITEM = "items/2023-07-18-domestic-abuse-after-separation.yaml"
PEOPLE = [("amira.khan@example.org", "Amira Khan"), ("jo.obrien@example.org", "Jo O'Brien")]


def cli(config: Config, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config.path)], catch_exceptions=False)


def soon(seconds: int) -> tuple[dt.datetime, str]:
    when = (dt.datetime.now() + dt.timedelta(seconds=seconds)).replace(microsecond=0)
    return when, when.strftime("%Y-%m-%d %H:%M:%S")


def recipients(server: SmtpServer) -> list[str]:
    return [rcpt for rcpt, _ in server.handler.messages]


@pytest.fixture
def project(tmp_path: Path, server: SmtpServer) -> Config:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port),
                          extra="approval: {notify: [editor@example.org]}\n")
    write_csv(config.root, PEOPLE)
    return config


@pytest.mark.usefixtures("backend")  # before `project`: its config then reads that state
def test_an_edit_after_approval_stops_the_scheduled_send_until_approved_again(project: Config,
                                                                            server: SmtpServer) -> None:
    approved = cli(project, "approve", "2023-07", "--by", "Jo Editor")
    assert approved.exit_code == 0, approved.output
    assert "Approved 2023-07 by Jo Editor" in approved.output
    item = project.root / ITEM
    item.write_text(item.read_text(encoding="utf-8").replace("title: ", "title: Revised ", 1), encoding="utf-8")

    _, at = soon(2)
    refused = cli(project, "send", "2023-07", "--at", at)
    assert refused.exit_code == 1
    assert f"{ITEM}: changed: title" in refused.output and "Revised " in refused.output
    assert "whole issue: the HTML and the text changed" in refused.output
    assert "nothing was sent" in refused.output
    assert recipients(server) == ["editor@example.org"]  # the notice only: no subscriber got anything
    notice = server.handler.messages[0][1].decode()
    assert "did not go" in notice and ITEM in notice

    assert cli(project, "approve", "2023-07", "--by", "Jo Editor").exit_code == 0
    when, at = soon(3)
    sent = cli(project, "send", "2023-07", "--at", at)
    assert sent.exit_code == 0, sent.output
    assert dt.datetime.now() >= when  # not before the time
    assert sorted(recipients(server)[1:]) == sorted(email for email, _ in PEOPLE)

    again = cli(project, "send", "2023-07", "--at", at)  # the same schedule, run a second time
    assert again.exit_code == 0 and "Nothing to send" in again.output
    assert len(server.handler.messages) == 3


def test_a_new_theme_choice_is_a_version_nobody_approved(project: Config, server: SmtpServer) -> None:
    assert cli(project, "approve", "2023-07").exit_code == 0
    csv = project.root / "subscribers.csv"
    csv.write_text("email,name,themes\nami@example.org,Ami,Neglect\n", encoding="utf-8")
    _, at = soon(1)
    refused = cli(project, "send", "2023-07", "--at", at)
    assert refused.exit_code == 1
    assert "themes: Neglect: a version the list now receives that was not approved" in refused.output
    assert recipients(server) == ["editor@example.org"]


def test_a_required_approval_blocks_a_manual_send_but_not_a_test(tmp_path: Path, server: SmtpServer) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port), extra="approval: {required: true}\n")
    write_csv(config.root, PEOPLE)
    blocked = cli(config, "send", "2023-07", "--yes")
    assert blocked.exit_code == 1
    assert "has not been approved" in blocked.output and "requires an approved build" in blocked.output
    assert cli(config, "send", "2023-07", "--test", "me@example.org").exit_code == 0
    assert recipients(server) == ["me@example.org"]
    assert cli(config, "approve", "2023-07").exit_code == 0
    assert cli(config, "send", "2023-07", "--yes").exit_code == 0
    assert len(server.handler.messages) == 3


def test_a_missed_schedule_sends_nothing_and_says_so(project: Config, server: SmtpServer) -> None:
    assert cli(project, "approve", "2023-07").exit_code == 0
    past = (dt.datetime.now() - dt.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    missed = cli(project, "send", "2023-07", "--at", past)
    assert missed.exit_code == 1
    assert "missed the scheduled time by 3 h" in missed.output and "grace window is 60 min" in missed.output
    assert recipients(server) == ["editor@example.org"]


@pytest.mark.usefixtures("backend")  # before `project`: its config then reads that state
def test_status_shows_who_approved_what(project: Config) -> None:
    assert cli(project, "approve", "2023-07", "--by", "Sam Second").exit_code == 0
    shown = cli(project, "status", "2023-07")
    assert shown.exit_code == 0
    assert "Approved 2023-07 by Sam Second" in shown.output
    assert "whole issue: \"Safeguarding digest: what's new in July 2023\"" in shown.output
    assert "No send run for 2023-07 yet." in shown.output


def test_waiting_reads_the_wall_clock_so_a_suspended_machine_notices_it_overslept() -> None:
    at = dt.datetime(2023, 8, 1, 9, 0, tzinfo=dt.UTC)
    now = [dt.datetime(2023, 8, 1, 8, 0, tzinfo=dt.UTC)]

    def sleep(seconds: float) -> None:  # the lid closes on the first sleep and opens 5 hours later
        now[0] += dt.timedelta(hours=5) if now[0].hour == 8 else dt.timedelta(seconds=seconds)

    with pytest.raises(MissedSchedule, match="missed the scheduled time by 4 h"):
        wait_until(at, dt.timedelta(hours=1), clock=lambda: now[0], sleep=sleep)
    now[0] = dt.datetime(2023, 8, 1, 8, 59, tzinfo=dt.UTC)
    late = wait_until(at, dt.timedelta(hours=1), clock=lambda: now[0],
                      sleep=lambda s: now.__setitem__(0, now[0] + dt.timedelta(seconds=s + 40)))
    assert dt.timedelta(0) <= late < dt.timedelta(hours=1)


def test_times_are_read_and_printed_in_the_newsletters_zone() -> None:
    when = parse_at("2023-08-01 09:00", "Europe/London")
    assert when.astimezone(dt.UTC).hour == 8  # BST
    assert describe(when, "Europe/London") == "2023-08-01 09:00 BST (Europe/London)"
    assert describe(when, "America/New_York") == "2023-08-01 04:00 EDT (America/New_York)"


def test_an_unchanged_record_has_no_differences_and_a_new_subject_is_named() -> None:
    record = {"sender": "a@example.org", "versions": {"whole issue": {"subject": "July", "html": "1", "text": "2",
                                                                      "message": "3"}}}
    assert compare_records(record, record) == []
    changed = {**record, "versions": {"whole issue": {"subject": "June", "html": "1", "text": "2", "message": "4"}}}
    assert compare_records(record, changed) == ["whole issue: subject 'July' -> 'June'"]


def test_the_reminder_carries_a_test_copy_and_the_approval_link(tmp_path: Path, server: SmtpServer) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port),
                          extra="approval: {remind_on: 25, approvers: [second@example.org],"
                                " preview_url: 'http://127.0.0.1:8010/'}\n")
    not_today = cli(config, "remind", "2023-07") if dt.date.today().day != 25 else None
    if not_today is not None:
        assert not_today.exit_code == 0 and "Not the reminder day" in not_today.output and not recipients(server)
    done = cli(config, "remind", "2023-07", "--now")
    assert done.exit_code == 0, done.output
    assert sorted(recipients(server)) == ["learning@example.org", "second@example.org"]  # reply_to + approver
    from email import message_from_bytes, policy

    note = message_from_bytes(server.handler.messages[0][1], policy=policy.default)
    assert note["Subject"].startswith("Review and approve: Safeguarding digest")
    body = note.get_body(("plain",)).get_content()
    assert "http://127.0.0.1:8010/#approval" in body and "newsletter preview 2023-07" in body
    copy, = [part for part in note.iter_attachments() if part.get_content_type() == "message/rfc822"]
    inner = copy.get_content()
    assert inner["Subject"].startswith("[TEST] Safeguarding digest")
    assert "Child neglect: learning from case reviews" in inner.get_body(("plain",)).get_content()


def test_a_config_edit_that_changes_no_email_does_not_block_the_approved_send(project: Config,
                                                                             server: SmtpServer) -> None:
    assert cli(project, "approve", "2023-07").exit_code == 0
    with project.path.open("a", encoding="utf-8") as fh:
        fh.write("timezone: Europe/London\n")  # newsletter.yaml changed; no version of the email did
    _, at = soon(1)
    sent = cli(project, "send", "2023-07", "--at", at)
    assert sent.exit_code == 0, sent.output
    assert sorted(recipients(server)) == sorted(email for email, _ in PEOPLE)
