"""CSV in and out (issue 14, points 4 and 5): no row is lost silently, every broken record
is one error naming its line, and every CSV the tool writes is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.sendkit import make_project

from newsletter import journal
from newsletter.addresses import check_address
from newsletter.audience.subscribers import read_subscribers
from newsletter.cli import main
from newsletter.collect import read_spreadsheet
from newsletter.config import Config
from newsletter.errors import NewsletterError
from newsletter.send import write_failures_csv

HEADER = "email,name,status,themes\n"
UNCLOSED = HEADER + 'ann@example.org,"Ann Smith,subscribed,\nbob@example.org,Bob,subscribed,\ncy@example.org,Cy,,\n'
SWALLOWED = HEADER + ('ann@example.org,"Ann Smith,subscribed,\nbob@example.org,Bob,subscribed,\n'
                      'cy@example.org,"Cy",subscribed,\ndi@example.org,Di,,\n')


@pytest.fixture
def digest(tmp_path: Path) -> Config:
    return make_project(tmp_path / "digest")


def run(config: Config, *args: str):
    return CliRunner().invoke(main, [*args, "--config", str(config.path)])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- point 4: reading ----------------------------------------------------------------------------


def test_an_unclosed_quote_in_the_subscriber_list_is_one_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "subscribers.csv", UNCLOSED)
    with pytest.raises(NewsletterError) as info:
        read_subscribers(path)
    assert str(info.value) == (f"{path}:2: a quote opened on this line is never closed (the rest of the file, "
                               "to line 4, became one cell) (add the closing quote (\"))")


def test_a_quote_that_swallows_rows_is_one_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "subscribers.csv", SWALLOWED)
    with pytest.raises(NewsletterError) as info:
        read_subscribers(path)
    assert str(info.value) == (f"{path}:2: a quote opened on this line runs to line 4, swallowing the rows "
                               "between (add the closing quote (\") on this line)")


def test_send_refuses_a_broken_list_with_one_error_line(digest: Config) -> None:
    write(digest.root / "subscribers.csv", UNCLOSED)
    result = run(digest, "subscribers", "export")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert [line for line in result.output.splitlines() if line.startswith("error:")] == [
        f"error: {digest.root / 'subscribers.csv'}:2: a quote opened on this line is never closed (the rest "
        "of the file, to line 4, became one cell) (add the closing quote (\"))"]


def test_an_over_long_cell_is_an_error_at_its_line_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path / "subscribers.csv", HEADER + "ann@example.org,Ann,,\nbob@example.org," + "B" * 140_000 + "\n")
    with pytest.raises(NewsletterError) as info:
        read_subscribers(path)
    assert str(info.value) == (f"{path}:3: a cell is longer than 131,072 characters (a closing quote is probably "
                               "missing, or the file is not a CSV list)")


def test_a_row_with_too_many_cells_is_reported_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "subscribers.csv", HEADER + "ann@example.org,Smith, Ann,subscribed,\n"
                 "bob@example.org,Bob,subscribed,\n")
    listed = read_subscribers(path)
    assert [s.email for s in listed.subscribers] == ["bob@example.org"]
    [problem] = listed.invalid
    assert (problem.line, problem.reason) == (2, "5 cells but the header has 4 columns "
                                                 "(quote a cell that contains the delimiter)")
    assert listed.rows == 2  # every line of the file is accounted for


def test_a_quoted_two_line_name_is_still_fine(tmp_path: Path) -> None:
    path = write(tmp_path / "subscribers.csv", HEADER + 'ann@example.org,"Ann\nSmith",,\nbob@example.org,Bob,,\n')
    assert [s.line for s in read_subscribers(path).subscribers] == [2, 4]


def test_a_broken_spreadsheet_for_collect_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "items.csv", "title,date,theme,summary,url\n"
                 'A title,2023-07-03,Neglect,"Summary,https://example.org/a\n'
                 "B title,2023-07-04,Neglect,Summary,https://example.org/b\n")
    items, errors = read_spreadsheet(path, shown="items.csv", default_source="Example")
    assert items == []
    assert [str(e) for e in errors] == ["items.csv:2: a quote opened on this line is never closed (the rest of "
                                        "the file, to line 3, became one cell) (add the closing quote (\"))"]


def test_suppress_import_of_a_broken_file_is_one_error(digest: Config, tmp_path: Path) -> None:
    path = write(tmp_path / "optouts.csv", "email\n\"ann@example.org\nbob@example.org\n")
    result = run(digest, "suppress", "import", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"error: {path}:2: a quote opened on this line is never closed" in result.output


# -- point 5: writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["=cmd|'/Ccalc'!A0@example.org", "+1@example.org", "-x@example.org",
                                     "@evil@example.org"])
def test_the_address_validator_refuses_formula_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="spreadsheets run as a formula"):
        check_address(address)


def test_failures_csv_neutralises_every_column(tmp_path: Path) -> None:
    row = journal.RecipientRow(key="a@example.org", email="a@example.org", name="=HYPERLINK(\"x\")",
                               themes=None, state="failed", attempts=2, reply="-550 @no such user",
                               message_id="", possible_duplicate=False)
    path = tmp_path / "failures.csv"
    write_failures_csv(path, [row])
    cells = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))[1]
    assert cells == ["a@example.org", "'=HYPERLINK(\"x\")", "failed", "2", "'-550 @no such user"]


def test_subscriber_export_neutralises_and_reads_back(digest: Config) -> None:
    write(digest.root / "subscribers.csv", HEADER + 'ann@example.org,"=SUM(1,2)",subscribed,\n'
          "bob@example.org,@Bob,subscribed,\tOnline safety\n")
    out = digest.root / "crm.csv"
    assert run(digest, "subscribers", "export", "--out", str(out)).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))[1:]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
    assert {row[0]: row[1] for row in rows} == {"ann@example.org": "'=SUM(1,2)", "bob@example.org": "'@Bob"}
    names = {s.email: s.name for s in read_subscribers(out).subscribers}
    assert names == {"ann@example.org": "=SUM(1,2)", "bob@example.org": "@Bob"}  # importing restores


def test_suppress_export_neutralises_and_imports_back(digest: Config, tmp_path: Path) -> None:
    db = journal.connect(digest.state)
    journal.suppress(db, "ann@example.org", "=evil()", "+source")
    db.close()
    out = tmp_path / "suppressed.csv"
    assert run(digest, "suppress", "export", "--out", str(out)).exit_code == 0
    [row] = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))[1:]
    assert row[:3] == ["ann@example.org", "'=evil()", "'+source"]
    other = make_project(tmp_path / "other")
    result = run(other, "suppress", "import", str(out))
    assert result.exit_code == 0, result.output
