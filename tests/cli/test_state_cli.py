"""`newsletter state show|upgrade|copy` and doctor's state line, as a user runs them."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsletter import journal
from newsletter.cli import main
from newsletter.config import load_config
from newsletter.golive import check_state

RELEASE_STATE = Path(__file__).resolve().parents[1] / "data" / "state-release-0.state"


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(project / "newsletter.yaml")])


@pytest.fixture
def old_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("NEWSLETTER_STATE", raising=False)
    shutil.copy(RELEASE_STATE, project / "newsletter.db")
    return project


def test_show_then_upgrade_a_state_file_from_the_last_release(old_project: Path) -> None:
    shown = run(old_project, "state", "show")
    assert shown.exit_code == 0, shown.output
    assert f"schema version 0 of {journal.LATEST} (run `newsletter state upgrade`)" in shown.output
    upgraded = run(old_project, "state", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema version 0 -> {journal.LATEST}" in upgraded.output
    again = run(old_project, "state", "upgrade")
    assert f"already at schema version {journal.LATEST}" in again.output
    shown = run(old_project, "state", "show")
    assert "recipients: 6" in shown.output and "suppressions: 2" in shown.output


def test_copy_into_postgresql_verifies_the_counts_and_refuses_a_full_target(old_project: Path, pg_url: str) -> None:
    copied = run(old_project, "state", "copy", "--to", pg_url)
    assert copied.exit_code == 0, copied.output
    assert "every table's count matches" in copied.output and "recipients: 6" in copied.output
    target = journal.connect(pg_url)
    source = journal.connect(old_project / "newsletter.db")
    assert journal.row_counts(target) == journal.row_counts(source)
    run_ = journal.get_run(target, "2023-07")
    assert run_ is not None and [r.key for r in journal.run_recipients(target, run_.id)] == \
        [r.key for r in journal.run_recipients(source, run_.id)]  # list order kept
    cache = journal.get_feed_cache(target, "https://example.org/feed")
    assert cache is not None and cache.body == b"<rss>\x00\xff</rss>"
    again = run(old_project, "state", "copy", "--to", pg_url)
    assert again.exit_code == 1 and "already holds rows" in again.output and "--force" in again.output
    forced = run(old_project, "state", "copy", "--to", pg_url, "--force")
    assert forced.exit_code == 0 and "emptied first" in forced.output
    new = journal.open_run(target, "2023-08", subject="August", digest="d", subscribers="s")
    assert new.id > run_.id  # ids go on after the copied ones


def test_a_password_in_the_url_is_never_printed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("NEWSLETTER_STATE", f"postgresql://digest:hunter2@127.0.0.1:{port}/newsletter")
    result = run(project, "status")
    assert result.exit_code == 1 and "hunter2" not in result.output
    assert result.output.startswith("error: ") and "digest:***@127.0.0.1" in result.output
    findings = check_state(load_config(project / "newsletter.yaml"))
    assert [f.level for f in findings] == ["error"] and "does not answer" in findings[0].message
    assert "hunter2" not in str(findings)


def test_doctor_says_which_state_and_its_version(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_STATE", raising=False)
    config = load_config(project / "newsletter.yaml")
    assert "not created yet" in check_state(config)[0].message
    journal.connect(config.state).close()
    [found] = check_state(config)
    assert found.level == "ok" and f"schema version {journal.LATEST}" in found.message
    monkeypatch.setenv("NEWSLETTER_STATE", "postgresql://digest@db.example.org/newsletter?sslmode=require")
    remote = load_config(project / "newsletter.yaml")
    assert remote.state.url is not None and "sslmode=require" in remote.state.url


def test_a_bad_state_value_is_one_error_at_its_line(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_STATE", raising=False)
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "state: mysql://db.example.org/news\n", encoding="utf-8")
    result = run(project, "status")
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {path}:") and "state:" in line and "postgresql://" in line
