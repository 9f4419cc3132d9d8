"""CSV in and out, the same rules for every CSV the tool reads or writes.

Reading (`csv_records`) is strict, so no row is lost silently: a quote that is never
closed, a quote followed by more text, a cell over `FIELD_LIMIT` characters, or a quoted
cell that has swallowed whole rows (its later lines hold the delimiter) each raise one
`CsvError` naming the line where the broken record starts. Quoted line breaks inside a
cell (a two-line name) stay allowed.

Writing (`safe_cell`) follows OWASP's CSV-injection advice: a cell starting with `=`,
`+`, `-`, `@`, tab or CR is written with a leading `'`, so a spreadsheet shows it as text
instead of running it as a formula; `restore_cell` (applied by `csv_records`) takes that
quote off again, so an export read back gives the original values.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from newsletter.errors import CsvError

__all__ = ["FIELD_LIMIT", "FORMULA_STARTS", "csv_records", "restore_cell", "safe_cell"]

FIELD_LIMIT = 131_072  # characters in one cell: Python's csv default, far above any real cell
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as a spreadsheet should see it: text, never a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def restore_cell(value: str) -> str:
    """Undo `safe_cell`: `'=x` read from one of our exports is `=x` again."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def csv_records(lines: Iterable[str], *, delimiter: str, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of every non-blank record; a broken record raises `CsvError`."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _broken(str(exc), line, reader.line_num, path) from exc
        end = reader.line_num
        if end > line and any(delimiter in rest for c in cells for rest in c.splitlines()[1:]):
            raise CsvError(f"a quoted cell runs from line {line} to line {end} and holds whole rows",
                           path=path, line=line, hint="a closing quote (\") is probably missing on this line")
        if any(c.strip() for c in cells):
            yield line, [restore_cell(c) for c in cells]
        line = end + 1


def _broken(problem: str, line: int, end: int, path: str | Path) -> CsvError:
    """One error at the start of the broken record, worded for the person who edits the file."""
    if "field larger" in problem:
        return CsvError(f"a cell is longer than {FIELD_LIMIT:,} characters", path=path, line=line,
                        hint="a closing quote is probably missing, or the file is not a CSV list")
    if "end of data" in problem or "EOF" in problem:
        return CsvError(f"a quote opened on this line is never closed (the rest of the file, to line {end}, "
                        "became one cell)", path=path, line=line, hint='add the closing quote (")')
    if end > line:
        return CsvError(f"a quote opened on this line runs to line {end}, swallowing the rows between",
                        path=path, line=line, hint='add the closing quote (") on this line')
    return CsvError(f"a quoted cell is followed by more text ({problem})", path=path, line=line,
                    hint='quote the whole cell and double any quote inside it: "Ann ""Nan"" Smith"')
