"""`newsletter suppress add|remove|list|import|export`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsletter import journal
from newsletter.audience.subscribers import read_subscribers
from newsletter.cli import main
from newsletter.config import Config


def run(config: Config, *args: str) -> Result:
    return CliRunner().invoke(main, ["suppress", *args, "--config", str(config.path)])


def rows(config: Config) -> dict[str, tuple[str, str]]:
    db = journal.connect(config.state)
    try:
        return {s.key: (s.reason, s.source) for s in journal.list_suppressions(db)}
    finally:
        db.close()


def test_add_records_mailto_unsubscribes_and_ignores_case(config: Config) -> None:
    result = run(config, "add", "Someone@Example.ORG", " other@example.net ")
    assert result.exit_code == 0, result.output
    assert rows(config) == {"someone@example.org": ("unsubscribed", "mailto"),
                            "other@example.net": ("unsubscribed", "mailto")}
    again = run(config, "add", "SOMEONE@example.org", "--reason", "complaint")
    assert again.exit_code == 0
    assert "already suppressed someone@example.org" in again.output
    assert rows(config)["someone@example.org"] == ("unsubscribed", "mailto")  # first record kept


def test_add_reports_every_bad_address_and_keeps_the_good_ones(config: Config) -> None:
    result = run(config, "add", "not-an-address", "fine@example.org", "also@bad@example.org")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert "'not-an-address'" in errors[0] and "'also@bad@example.org'" in errors[1]
    assert "Traceback" not in result.output
    assert list(rows(config)) == ["fine@example.org"]


def test_remove_lets_send_mail_them_again(config: Config) -> None:
    run(config, "add", "back@example.org", "stays@example.org")
    result = run(config, "remove", "BACK@example.org", "never@example.org")
    assert result.exit_code == 0
    assert "removed back@example.org" in result.output
    assert "not on the list: never@example.org" in result.output
    assert list(rows(config)) == ["stays@example.org"]


def test_list_shows_reason_source_and_counts(config: Config) -> None:
    run(config, "add", "a@example.org")
    db = journal.connect(config.state)
    journal.suppress(db, "b@example.org", "hard-bounce", "bounce:5.1.1")
    result = run(config, "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["a@example.org", "unsubscribed", "mailto", lines[0].split()[-1]]
    assert lines[1].split()[:3] == ["b@example.org", "hard-bounce", "bounce:5.1.1"]
    assert lines[-1] == "2 suppressed (1 hard-bounce, 1 unsubscribed)"
    only = run(config, "list", "--reason", "hard-bounce")
    assert [line.split()[0] for line in only.output.splitlines()[:-1]] == ["b@example.org"]


def test_import_reads_an_excel_export_and_reports_bad_rows_by_line(config: Config, tmp_path: Path) -> None:
    export = tmp_path / "crm-optouts.csv"
    text = ('E-mail;Name;Opted out\r\n'
            'Ann@Example.org;"Smith; Ann";2023-05-01\r\n'
            'broken-address;Bob;2023-05-02\r\n'
            '\r\n'
            'cat@example.org;"Cat\r\nwith a newline";2023-05-03\r\n'
            ';Nobody;2023-05-04\r\n'
            'ann@example.org;Ann again;2023-05-05\r\n')
    export.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = run(config, "import", str(export))
    assert result.exit_code == 1
    assert "Imported crm-optouts.csv: 2 added, 0 already suppressed" in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [e.split(": ")[1] for e in errors] == [f"{export}:3", f"{export}:7"]
    assert rows(config) == {"ann@example.org": ("unsubscribed", "csv:crm-optouts.csv"),
                            "cat@example.org": ("unsubscribed", "csv:crm-optouts.csv")}
    again = run(config, "import", str(export))
    assert "0 added, 2 already suppressed" in again.output
    assert len(rows(config)) == 2


def test_import_without_an_email_column_says_what_it_found(config: Config, tmp_path: Path) -> None:
    export = tmp_path / "wrong.csv"
    export.write_text("address,name\nann@example.org,Ann\n")
    result = run(config, "import", str(export))
    assert result.exit_code == 1
    assert result.stderr == f"error: {export}:1: no `email` column in the header row (found: address, name) " \
                            "(the first row must name the columns, one of them `email`)\n"
    assert rows(config) == {}


def test_import_of_a_missing_file_is_a_user_error(config: Config, tmp_path: Path) -> None:
    result = run(config, "import", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'nope.csv'}: cannot read the opt-out list")


def test_export_round_trips_through_import(config: Config, tmp_path: Path) -> None:
    run(config, "add", "one@example.org", "two@example.org")
    db = journal.connect(config.state)
    journal.suppress(db, "three@example.org", "hard-bounce", "bounce:5.1.1, run 2023-07")
    out = run(config, "export")
    assert out.exit_code == 0
    table = list(csv.DictReader(io.StringIO(out.output)))
    assert {r["email"]: r["source"] for r in table} == {
        "one@example.org": "mailto", "two@example.org": "mailto", "three@example.org": "bounce:5.1.1, run 2023-07"}
    target = tmp_path / "suppressed.csv"
    assert run(config, "export", "--out", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == out.output
    config.state.path.unlink()
    assert run(config, "import", str(target)).exit_code == 0
    assert set(rows(config)) == {"one@example.org", "two@example.org", "three@example.org"}


@pytest.mark.parametrize("typed", ["Zoe@Bücher.example", "ZOE@xn--bcher-kva.example", "zoe@BÜCHER.example"])
def test_suppressed_address_matches_the_subscriber_csv_row(config: Config, tmp_path: Path, typed: str) -> None:
    """Whatever spelling the officer types, `send` sees the same address as suppressed."""
    assert run(config, "add", typed).exit_code == 0
    subscribers = tmp_path / "subscribers.csv"
    subscribers.write_text("email,name\nzoe@bücher.example,Zoë\nother@example.org,O\n", encoding="utf-8")
    suppressed = journal.suppressed_addresses(journal.connect(config.state))
    keys = [s.key for s in read_subscribers(subscribers).subscribers]
    assert [k for k in keys if k not in suppressed] == ["other@example.org"]
