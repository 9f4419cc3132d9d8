"""Files the tool writes and the CSV files it reads: no torn file, no lost row, no formula.

Every file the tool writes that a user or a later run relies on (exports, the token
secret, item files, archive pages, failures.csv) goes through `atomic_write`: readers see
the old file or the new one, never a torn mix.

CSV in and out follow the same rules for every CSV the tool reads or writes.

Reading (`csv_records`) is strict, so no row is lost silently: a quote that is never
closed, a quote followed by more text, a cell over `FIELD_LIMIT` characters, or a quoted
cell that has swallowed whole rows (its later lines hold the delimiter) each raise one
`CsvError` naming the line where the broken record starts. Quoted line breaks inside a
cell (a two-line name) stay allowed.

Writing (`safe_cell`) follows OWASP's CSV-injection advice: a cell starting with `=`,
`+`, `-`, `@`, tab or CR is written with a leading `'`, so a spreadsheet shows it as text
instead of running it as a formula; `restore_cell` (applied by `csv_records`) takes that
quote off again, so an export read back gives the original values.

Echoing (`shown_cell`): an error that quotes a cell (a header the tool does not know)
shows it escaped and cut, so a line break, NUL or terminal escape in the file can never
break the one-line `error: FILE:LINE: ...` contract or reach the terminal raw.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from newsletter.errors import CsvError

__all__ = ["FIELD_LIMIT", "FORMULA_STARTS", "atomic_write", "csv_records", "restore_cell", "safe_cell", "shown_cell"]


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None, exclusive: bool = False) -> None:
    """Write `data` to `path` through a temp file in the same folder: fsync, then rename.

    The file keeps the permissions of the one it replaces, else gets `mode` (0o666 minus
    the umask when None; 0o600 for secrets). With `exclusive`, an existing `path` is left
    alone and `FileExistsError` raised (for files that must never be overwritten). The
    temp file is removed on any failure.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path, mode))
        if exclusive:
            _publish_new(Path(tmp), path, payload)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _publish_new(tmp: Path, path: Path, payload: bytes) -> None:
    """A hard link publishes the complete file at once and fails if `path` exists; where
    links are not supported (some network and FUSE filesystems), an exclusive create does."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        with open(path, "xb") as fh:
            fh.write(payload)


def _mode_for(path: Path, mode: int | None) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        if mode is not None:
            return mode
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


FIELD_LIMIT = 131_072  # characters in one cell: Python's csv default, far above any real cell
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as a spreadsheet should see it: text, never a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def shown_cell(value: str, limit: int = 40) -> str:
    """A cell as an error line quotes it: every unprintable character escaped as Python
    writes it (`\\n`, `\\x00`, `\\u2028`), then cut to `limit` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


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
