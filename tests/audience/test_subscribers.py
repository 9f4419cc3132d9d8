"""The subscriber CSV: Excel exports, bad rows with line numbers, duplicates, strict mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.audience.subscribers import MAX_NAME, read_subscribers
from newsletter.errors import ErrorList, SendError


def write(tmp_path: Path, data: str | bytes, name: str = "subscribers.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_excel_export_with_bom_semicolons_crlf_and_quoted_commas(tmp_path: Path) -> None:
    data = ("\ufeffEmail;Name;Status;Themes\r\n"
            'ann@example.org;"Smith, Ann";subscribed;Online safety|Neglect\r\n'
            "bob@example.org;Bob;;\r\n").encode("utf-8")
    result = read_subscribers(write(tmp_path, data))
    assert [(s.email, s.name, s.themes) for s in result.subscribers] == [
        ("ann@example.org", "Smith, Ann", ("Online safety", "Neglect")),
        ("bob@example.org", "Bob", None),
    ]
    assert result.invalid == [] and result.duplicates == []


def test_a_first_name_column_is_read_for_the_greeting(tmp_path: Path) -> None:
    result = read_subscribers(write(tmp_path, 'email,name,First Name\nann@example.org,"Smith, Annabel",  Ann \n'
                                              "bob@example.org,Bob Jones,\n"))
    assert [(s.name, s.first_name) for s in result.subscribers] == [("Smith, Annabel", "Ann"), ("Bob Jones", "")]


def test_tab_delimited_and_only_an_email_column(tmp_path: Path) -> None:
    result = read_subscribers(write(tmp_path, "email\tname\nann@example.org\tAnn\n"))
    assert [(s.email, s.name) for s in result.subscribers] == [("ann@example.org", "Ann")]
    result = read_subscribers(write(tmp_path, "email\nann@example.org\n", "only.csv"))
    assert [(s.email, s.name, s.themes) for s in result.subscribers] == [("ann@example.org", "", None)]


def test_invalid_rows_are_reported_with_their_line_and_skipped(tmp_path: Path) -> None:
    data = ('email,name\n'
            'good@example.org,Good\n'
            '"multi@example.org","Two\nLines"\n'   # a quoted newline: the next record starts on line 5
            'not-an-address,Broken\n'
            ',No address\n'
            '\n'
            'a b@example.org,Space\n')
    result = read_subscribers(write(tmp_path, data))
    assert [s.email for s in result.subscribers] == ["good@example.org", "multi@example.org"]
    assert [(p.line, p.value) for p in result.invalid] == [(5, "not-an-address"), (6, ""), (8, "a b@example.org")]
    assert "@-sign" in result.invalid[0].reason


def test_duplicates_compare_case_insensitively_and_are_kept_once(tmp_path: Path) -> None:
    data = "email,name\nPriya.Shah@Example.org,Priya\n priya.shah@example.org ,Priya again\n"
    result = read_subscribers(write(tmp_path, data))
    assert [(s.email, s.name) for s in result.subscribers] == [("Priya.Shah@example.org", "Priya")]
    assert [(p.line, p.reason) for p in result.duplicates] == [(3, "same address as line 2")]


def test_unsubscribed_rows_are_excluded_whatever_their_order(tmp_path: Path) -> None:
    data = "email,status\nann@example.org,subscribed\nbob@example.org,unsubscribed\nANN@example.org,Unsubscribed\n"
    result = read_subscribers(write(tmp_path, data))
    assert result.subscribers == []
    assert sorted(s.key for s in result.unsubscribed) == ["ann@example.org", "bob@example.org"]


def test_unknown_status_is_an_invalid_row(tmp_path: Path) -> None:
    result = read_subscribers(write(tmp_path, "email,status\nann@example.org,paused\n"))
    assert result.subscribers == []
    assert result.invalid[0].line == 2 and "unknown status" in result.invalid[0].reason


def test_strict_raises_every_bad_row_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "email\nbad-one\nok@example.org\nbad@two\n")
    with pytest.raises(ErrorList) as info:
        read_subscribers(path, strict=True)
    lines = [str(e) for e in info.value.errors]
    assert [e.line for e in info.value.errors] == [2, 4]
    assert lines[0].startswith(f"{path}:2: email: ")


def test_missing_email_column_names_the_header_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name,address\nAnn,ann@example.org\n")
    with pytest.raises(SendError) as info:
        read_subscribers(path)
    assert str(info.value).startswith(f"{path}:1: no `email` column")
    assert "found: name, address" in str(info.value)


@pytest.mark.parametrize("data", ["", "\ufeff", "\r\n\r\n"])
def test_empty_file_is_a_clear_error(tmp_path: Path, data: str) -> None:
    with pytest.raises(SendError, match="subscriber list is empty"):
        read_subscribers(write(tmp_path, data))


def test_not_utf8_names_the_line_and_says_how_to_export(tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\nann@example.org,Ann\nzoe@example.de,Zo\xeb\n".encode("latin-1"))
    with pytest.raises(SendError) as info:
        read_subscribers(path)
    assert info.value.line == 3 and "CSV UTF-8" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SendError, match="subscriber list not found"):
        read_subscribers(tmp_path / "nope.csv")


def test_international_domain_is_delivered_in_ascii_and_local_part_must_be_ascii(tmp_path: Path) -> None:
    result = read_subscribers(write(tmp_path, "email\nann@bücher.de\nzoë@example.org\n"))
    assert [s.email for s in result.subscribers] == ["ann@xn--bcher-kva.de"]
    assert result.invalid[0].line == 3


def test_long_names_are_cut_and_whitespace_collapsed(tmp_path: Path) -> None:
    result = read_subscribers(write(tmp_path, f'email,name\nann@example.org,"  Ann \t {"x" * 300} "\n'))
    name = result.subscribers[0].name
    assert len(name) == MAX_NAME and name.startswith("Ann x")


def test_same_domain_cache_still_rejects_bad_local_parts(tmp_path: Path) -> None:
    result = read_subscribers(write(tmp_path, "email\nok@example.org\n.dot@example.org\nx..y@example.org\n"))
    assert [s.email for s in result.subscribers] == ["ok@example.org"]
    assert [p.line for p in result.invalid] == [3, 4]


def test_a_language_column_is_read_as_the_config_spells_it(tmp_path: Path) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text("email,language\na@example.org,CY\nb@example.org,en\nc@example.org,\nd@example.org,fr\n",
                    encoding="utf-8")
    result = read_subscribers(path, languages=("cy", "en-GB"))
    assert [(s.email, s.language) for s in result.subscribers] == [
        ("a@example.org", "cy"), ("b@example.org", "en-GB"), ("c@example.org", "")]
    [problem] = result.invalid
    assert (problem.line, problem.value) == (5, "fr") and problem.reason.startswith("unknown language: use one of cy, en-GB")
