"""The state file refuses a write (issue 26): one error line, the journal intact, a clean resume.

Real SQLite refusals, injected on the run's own connection: `PRAGMA query_only` (what a
read-only file or folder gives: SQLITE_READONLY) and `PRAGMA max_page_count` (what a full
disk gives: SQLITE_FULL); and a state file that is not one at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.sendkit import make_project, rows, smtp_block, write_csv
from support.smtpserver import SmtpServer

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config

pytestmark = pytest.mark.usefixtures("token_secret")


def refuse_writes_after(monkeypatch: pytest.MonkeyPatch, delivered: SmtpServer, after: int,
                        refuse: Callable[[sqlite3.Connection], None]) -> None:
    """The run's state connection starts refusing writes once the server has `after` messages."""
    real = journal.connect

    def connect(state: journal.StateLocation, **options: bool) -> journal.Db:
        db = real(state, **options)
        original = db.execute

        def execute(sql: str, *args: Any) -> Any:
            if len(delivered.handler.messages) >= after and sql == "BEGIN IMMEDIATE" and not refused:
                refused.append(True)
                refuse(db.raw)  # on the run's own SQLite connection
            return original(sql, *args)

        refused: list[bool] = []
        db.execute = execute  # type: ignore[method-assign]  # Db.transaction calls self.execute
        return db

    monkeypatch.setattr("newsletter.send.run.journal.connect", connect)


def send_cli(config: Config, csv: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--subscribers",
                                       str(csv), "--yes"])
    return result.exit_code, result.output


def read_only(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA query_only = 1")


def disk_full(db: sqlite3.Connection) -> None:
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    db.execute("CREATE TABLE IF NOT EXISTS filler (x)")  # the next write needs a page it cannot have


@pytest.mark.parametrize(("refuse", "said"), [(read_only, "read-only"), (disk_full, "the disk is full")],
                         ids=["read-only", "disk-full"])
def test_a_state_file_that_stops_taking_writes_mid_run_is_one_error_and_resumes_cleanly(
        tmp_path: Path, server: SmtpServer, monkeypatch: pytest.MonkeyPatch,
        refuse: Callable[[sqlite3.Connection], None], said: str) -> None:
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port, concurrency=1))
    csv = write_csv(config.root, 12)
    with monkeypatch.context() as patch:
        refuse_writes_after(patch, server, 4, refuse)
        code, output = send_cli(config, csv)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and said in errors[0] and "Traceback" not in output, output
    assert str(config.state.path) in errors[0] and "aside" not in output
    with sqlite3.connect(str(config.state.path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    before = rows(config)
    accepted = set(server.handler.counts())
    assert {e for e, r in before.items() if r.state == "sent"} <= accepted  # nobody sent who was not
    assert all(r.state in ("sent", "sending", "pending") for r in before.values())

    code, output = send_cli(config, csv)  # writable again: the same command finishes the run
    assert code == 0, output
    counts = server.handler.counts()
    assert set(counts) == set(before) and {r.state for r in rows(config).values()} == {"sent"}
    assert {e for e, n in counts.items() if n > 1} <= {e for e, r in rows(config).items() if r.possible_duplicate}


def test_an_unreadable_state_file_is_one_error_that_never_advises_starting_afresh(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    write_csv(config.root, 2)
    path = config.state.path
    assert path is not None
    path.write_bytes(b"this is not a database, but it is somebody's only record\n" * 200)
    for args in (["status"], ["status", "2023-07"], ["send", "2023-07", "--yes"]):
        result = CliRunner().invoke(main, [*args, "--config", str(config.path)])
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 1 and len(errors) == 1, result.output
        assert "not a newsletter state file" in errors[0] and "restore it from a backup" in errors[0]
        assert not any(word in result.output for word in ("aside", "afresh", "delete"))
    assert path.read_bytes().startswith(b"this is not a database")  # left as it was


def test_an_outbox_that_cannot_be_made_is_one_error_line(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_csv(config.root, 2)
    config.outbox_dir.write_text("a file where the outbox folder should be\n")  # as a read-only folder would
    code, output = send_cli(config, csv)
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and "cannot create the local outbox" in errors[0], output
    assert "Traceback" not in output


def test_a_failures_csv_that_cannot_be_written_is_a_warning_after_the_summary(tmp_path: Path,
                                                                              server: SmtpServer) -> None:
    server.handler.rcpt_replies["user1@example.org"] = ["550 5.1.1 no such user"]
    config = make_project(tmp_path / "digest", smtp=smtp_block(server.port))
    csv = write_csv(config.root, 3)
    (config.issues_dir / "2023-07" / "failures.csv").mkdir(parents=True)  # cannot be replaced by a file
    code, output = send_cli(config, csv)
    assert code == 0 and "Traceback" not in output, output
    assert "warning: cannot write" in output and "failures.csv" in output and "--failures-csv" in output
    assert {r.state for r in rows(config).values()} == {"sent", "failed"}
