"""What `send`, its report and the unsubscribe server say: counts that agree, a "no" that is
not an error, the local-outbox note once, a skipped cell that is never blank, both paths."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.sendkit import REPO, SECRET, make_project

from newsletter.cli import main
from newsletter.cli.wording import plural

pytestmark = pytest.mark.usefixtures("token_secret")


def write_rows(root: Path, rows: list[str]) -> Path:
    path = root / "subscribers.csv"
    path.write_text("email,name,status\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def run_send(config_path: Path, csv: Path) -> str:
    result = CliRunner().invoke(main, ["send", "2023-07", "--yes", "--config", str(config_path),
                                       "--subscribers", str(csv)])
    assert result.exit_code == 0, result.output
    return result.output


def skipped_cells(output: str) -> tuple[str, str]:
    match = re.search(r"skipped\s*│\s*(\S*)\s*│\s*(\S*)\s*│", output)
    assert match, output
    return match.group(1), match.group(2)


def test_counts_agree_with_their_nouns() -> None:
    assert [plural(n, "duplicate row") for n in (0, 1, 2)] == ["0 duplicate rows", "1 duplicate row",
                                                              "2 duplicate rows"]
    assert plural(1, "address") == "1 address" and plural(3, "address") == "3 addresses"
    assert plural(1, "recipient was") == "1 recipient was" and plural(2, "recipient was") == "2 recipients were"


def test_plan_says_one_duplicate_row_and_the_outbox_once(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_rows(config.root, ["a@example.org,A,subscribed", "A@example.org,A again,subscribed",
                                   "b@example.org,B,subscribed", "nope,Broken,subscribed"])
    output = run_send(config.path, csv)
    assert "excluded: 1 duplicate row\n" in output and "excluded: 1 invalid row\n" in output
    assert "(4 rows)" in output
    assert output.lower().count("no mail leaves this machine") == 1
    assert skipped_cells(output) == ("0", "0")  # nobody skipped: 0 in both columns, never blank


def test_plan_says_two_duplicate_rows(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_rows(config.root, ["a@example.org,A,subscribed", "A@example.org,A,subscribed",
                                   "a@EXAMPLE.org,A,subscribed"])
    output = run_send(config.path, csv)
    assert "excluded: 2 duplicate rows\n" in output


def test_report_counts_skipped_recipients_in_this_run_too(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_rows(config.root, ["a@example.org,A,subscribed", "gone@example.org,Gone,unsubscribed"])
    output = run_send(config.path, csv)
    assert "excluded: 1 unsubscribed in the list" in output
    assert skipped_cells(output) == ("1", "1")


def test_answering_no_is_not_an_error(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_rows(config.root, ["a@example.org,A,subscribed"])
    controller, terminal = pty.openpty()
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "send", "2023-07", "--config", str(config.path),
                                "--subscribers", str(csv)], stdin=terminal, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    os.close(terminal)
    os.write(controller, b"n\n")
    output = process.communicate(timeout=120)[0]
    os.close(controller)
    assert process.returncode == 0, output
    assert "Rehearse: file" in output and "for 1 recipient in the local outbox? [y/N]" in output
    assert output.rstrip().endswith("Not sent.") and "error" not in output
    assert not (config.outbox_dir / "new").exists() or not list((config.outbox_dir / "new").iterdir())


def test_unsubscribe_server_names_the_topics_page_too(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest",
                          extra='preferences_url: "https://example.org/unsubscribe/preferences"\n')
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET, "PYTHONPATH": str(REPO)}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "newsletter", "unsubscribe-server", "--port", str(port),
                                "--no-access-log", "--config", str(config.path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any("topics page" in line for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, lines
            lines.append(process.stdout.readline())
    finally:
        process.terminate()
        process.communicate(timeout=30)
    text = "".join(lines)
    assert "/unsubscribe (links in mail: https://example.org/unsubscribe)" in text
    assert re.search(rf"topics page on http://127\.0\.0\.1:{port}/unsubscribe/preferences "
                     r"\(links in mail: https://example\.org/unsubscribe/preferences\)", text), text
