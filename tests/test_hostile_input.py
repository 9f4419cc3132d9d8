"""Issue 14, point 9: property tests. Random YAML documents and random CSV bytes given to
the loaders give data or `NewsletterError`s (one `FILE:LINE`-style line each), never a
traceback. Kept fast: few examples, small inputs."""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.audience import read_optouts, read_subscribers
from newsletter.collect import read_spreadsheet
from newsletter.config import load_config
from newsletter.errors import NewsletterError
from newsletter.issue import parse_items
from newsletter.yamldoc import parse_yaml

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = st.sampled_from(["title", "date", "source", "theme", "summary", "links", "see_also", "image", "label",
                        "url", "src", "alt", "name", "from", "themes", "unsubscribe", "smtp", "colors",
                        "host", "port", "text", "sources", "tokens", "bounces", "list_id", "reply_to", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["2023-07-03", "2023-02-30", "https://example.org/a",
                                                           "#123456", "Neglect", "a@example.org", "ftp://x"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=6)), max_leaves=20)
DOCUMENTS = st.one_of(
    VALUES.map(lambda v: yaml.safe_dump(v, allow_unicode=True)),
    st.lists(st.sampled_from(list("ab:-[]{}&*!|>'\"#%@` \n\t,?") + ["title: ", "- ", "  ", "links:\n", "\u00e9"]),
             max_size=60).map("".join),
)
WHERE = re.compile(r"^\S+?(:\d+)?: ")


def assert_one_line_each(exc: NewsletterError, path: str) -> None:
    lines = exc.lines()
    assert lines and all(line.startswith(path) and "\n" not in line for line in lines), lines
    assert all(WHERE.match(line) for line in lines), lines


@FAST
@given(DOCUMENTS)
def test_random_yaml_items_give_items_or_error_lines(text: str) -> None:
    try:
        items, errors = parse_items(parse_yaml(text, "items/x.yaml"), "items/x.yaml")
    except NewsletterError as exc:
        assert_one_line_each(exc, "items/x.yaml")
        return
    for error in errors:
        assert_one_line_each(error, "items/x.yaml")
    assert all(item.path == "items/x.yaml" for item in items)


@FAST
@given(DOCUMENTS)
def test_random_yaml_configs_give_a_config_or_error_lines(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "newsletter.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        config = load_config(path)
    except NewsletterError as exc:
        assert_one_line_each(exc, str(path))
        return
    assert config.name


CSV_BYTES = st.one_of(
    st.binary(max_size=200),
    st.lists(st.sampled_from([b"email", b"name", b"status", b"themes", b",", b";", b"\t", b'"', b"\r\n", b"\n",
                              b"a@example.org", b"=cmd", b"'=x", b"subscribed", b"\xef\xbb\xbf", b"\xe9", b" "]),
             max_size=40).map(b"".join),
)


@FAST
@given(CSV_BYTES)
def test_random_subscriber_csv_gives_rows_or_error_lines(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("csv") / "subscribers.csv"
    path.write_bytes(data)
    try:
        listed = read_subscribers(path)
    except NewsletterError as exc:
        assert_one_line_each(exc, str(path))
        return
    assert all(problem.line >= 2 for problem in [*listed.invalid, *listed.duplicates])


@FAST
@given(CSV_BYTES)
def test_random_optout_csv_gives_rows_or_error_lines(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("csv") / "optouts.csv"
    path.write_bytes(data)
    try:
        rows = read_optouts(path)
    except NewsletterError as exc:
        assert_one_line_each(exc, str(path))
        return
    assert all(line >= 2 for line, _ in rows)


SHEET_BYTES = st.lists(st.sampled_from([b"title,date,theme,summary,url", b",", b'"', b"\n", b"2023-07-03",
                                        b"Neglect", b"https://example.org/a", b"A title", b"\xe9", b";"]),
                       max_size=30).map(b"".join)


@FAST
@given(st.one_of(SHEET_BYTES, st.binary(max_size=120)))
def test_random_spreadsheets_give_items_or_error_lines(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("csv") / "items.csv"
    path.write_bytes(data)
    try:
        items, errors = read_spreadsheet(path, shown="items.csv", default_source="Example")
    except NewsletterError as exc:
        assert_one_line_each(exc, "items.csv")
        return
    for error in errors:
        assert_one_line_each(error, "items.csv")
    assert all(item.path == "items.csv" for item in items)


# A header cell holding a quoted line break, a NUL and a terminal escape (clear screen).
HOSTILE_HEADER = b'"Mail\n\x00\x1b[2J",name\r\na@example.org,Ann\r\n'


def test_a_hostile_header_cell_is_echoed_escaped_on_one_line(tmp_path) -> None:
    """Each CSV the tool reads names the header cells it found when a column is missing or
    unknown: escaped, so the error stays one line and no control character reaches the terminal."""
    path = tmp_path / "list.csv"
    path.write_bytes(HOSTILE_HEADER)
    shown = r"Mail\n\x00\x1b[2J"
    for read in (read_subscribers, read_optouts):
        try:
            read(path)
        except NewsletterError as exc:
            [line] = exc.lines()
            assert line.startswith(f"{path}:1: no `email` column in the header row (found: ")
            assert f"(found: {shown}, name)".lower() in line.lower()  # the opt-out list lower-cases
        else:
            raise AssertionError(f"{read.__name__} accepted a list without an email column")
    _, errors = read_spreadsheet(path, shown="items.csv", default_source="Example")
    lines = [line for error in errors for line in error.lines()]
    assert lines[0].startswith(r"items.csv:1: mail_\x00\x1b[2j: unknown column (columns: title, ")
    assert all("\n" not in line and "\x00" not in line and "\x1b" not in line for line in lines)
