"""Spreadsheets in: a CSV with one item per row, as typed in Excel or LibreOffice.

The header row names item fields (see `COLUMNS`); the order is free, case and spaces in
the names are ignored. Excel's exports work as they come: UTF-8 with a BOM, the `;`
delimiter of European locales, CRLF line ends, and the Windows code page (cp1252) of
plain "CSV (Comma delimited)". Each row is checked by the same code that loads item
files, so errors read `items.csv:7: date: not a real date ...` with the row's line.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Sequence
from pathlib import Path

from newsletter.collect.feeds import link_label
from newsletter.config import theme_key
from newsletter.errors import CollectError, CsvError, ItemError, NewsletterError
from newsletter.files import csv_records, shown_cell
from newsletter.issue import Item, parse_items
from newsletter.yamldoc import LineMap

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "read_spreadsheet"]

COLUMNS = (
    "title", "date", "source", "theme", "summary", "link_label", "link_title", "link_url",
    "see_also_title", "see_also_url", "image_src", "image_alt", "guid",
)
REQUIRED_COLUMNS = ("title", "date", "summary", "link_url")


def _decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else the Windows code page Excel uses."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _column(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _header(names: list[str], shown: str) -> list[NewsletterError]:
    errors: list[NewsletterError] = []
    for name in names:
        if name and name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            errors.append(CollectError("unknown column", path=shown, line=1, field=shown_cell(name),
                                       hint=f"did you mean {close[0]!r}?" if close else f"columns: {', '.join(COLUMNS)}"))
    for name in REQUIRED_COLUMNS:
        if name not in names:
            errors.append(CollectError(f"no {name!r} column", path=shown, line=1,
                                       hint=f"the header row needs at least: {', '.join(REQUIRED_COLUMNS)}"))
    return errors


def _mapping(values: dict[str, str], line: int) -> LineMap:
    data = LineMap(values)
    data.line = line
    data.key_lines = {key: line for key in values}
    return data


def _row_item(row: dict[str, str], line: int, default_source: str) -> LineMap:
    """The row as the mapping an item file would hold, so the item loader can judge it."""
    cell = {key: (row.get(key) or "").strip() for key in COLUMNS}
    item = {
        "title": cell["title"],
        "date": cell["date"],
        "source": cell["source"] or default_source,
        "theme": cell["theme"],
        "summary": cell["summary"].replace("\r\n", "\n"),
    }
    link = {
        "label": cell["link_label"] or link_label(cell["title"]),
        "title": cell["link_title"] or cell["title"],
        "url": cell["link_url"],
    }
    data: dict[str, object] = {**item, "links": [_mapping(link, line)]}
    if cell["see_also_url"] or cell["see_also_title"]:
        data["see_also"] = [_mapping({"title": cell["see_also_title"], "url": cell["see_also_url"]}, line)]
    if cell["image_src"] or cell["image_alt"]:
        data["image"] = _mapping({"src": cell["image_src"], "alt": cell["image_alt"]}, line)
    if cell["guid"]:
        data["guid"] = cell["guid"]
    return _mapping(data, line)  # type: ignore[arg-type]


def _unknown_theme(row: dict[str, str], line: int, themes: Sequence[str], shown: str) -> NewsletterError | None:
    """The row's theme cell when it names no configured theme (empty is fine: rules choose)."""
    theme = (row.get("theme") or "").strip()
    keys = {theme_key(t): t for t in themes}
    if not theme or not themes or theme_key(theme) in keys:
        return None
    close = difflib.get_close_matches(theme_key(theme), list(keys), n=1)
    hint = (f"did you mean {keys[close[0]]!r}?" if close
            else f"use one of: {', '.join(themes)}, or leave it empty")
    return ItemError(f"unknown theme {theme!r}", path=shown, line=line, field="theme", hint=hint)


def read_spreadsheet(path: Path, *, shown: str | None = None, default_source: str = "",
                     themes: Sequence[str] = ()) -> tuple[list[Item], list[NewsletterError]]:
    """Items from a CSV file, and every problem found, each naming its row's line.

    Every problem of a row is reported at once (a bad date and an unknown theme both),
    so fixing a spreadsheet takes one round; `themes` are the configured theme names.
    """
    shown = shown or str(path)
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise CollectError(f"cannot read: {exc.strerror}", path=shown, hint="check the file name") from exc
    if not text.strip():
        raise CollectError("the spreadsheet is empty", path=shown, hint="add a header row and one row per item")
    records = csv_records(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]), path=shown)
    try:
        names = [_column(n) for n in next(records, (1, []))[1]]
        rows = list(records)
    except CsvError as exc:
        return [], [exc]
    errors = _header(names, shown)
    if errors:
        return [], errors
    items: list[Item] = []
    for start, cells in rows:
        if len(cells) > len(names) and any(c.strip() for c in cells[len(names):]):
            errors.append(CollectError(f"{len(cells)} cells but {len(names)} columns", path=shown, line=start,
                                       hint="a cell with the delimiter in it needs quotes"))
            continue
        row = dict(zip(names, cells, strict=False))
        found, problems = parse_items(_row_item(row, start, default_source), shown)
        items.extend(found)
        errors.extend(problems)
        unknown = _unknown_theme(row, start, themes, shown)
        if unknown is not None:
            errors.append(unknown)
    return items, errors
