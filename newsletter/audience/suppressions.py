"""The suppression list as the officer handles it: add, import a CRM opt-out CSV, export.

Storage is `journal`'s; this module turns addresses and CSV rows into journal calls and
reports every bad address with its line, while still recording the good ones (when in
doubt, not mailing someone is the safe side). Addresses are normalised exactly as `send`
normalises subscribers (`addresses.checked_key`), so a suppressed
address always matches its row in the next subscriber CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from newsletter import journal
from newsletter.addresses import checked_key
from newsletter.errors import NewsletterError
from newsletter.files import atomic_write, csv_records, safe_cell, shown_cell
from newsletter.journal import SuppressionReason

__all__ = [
    "SuppressResult",
    "export_suppressions",
    "import_optouts",
    "read_optouts",
    "suppress_addresses",
    "write_suppressions",
]

_DELIMITERS = (",", ";", "\t")
_EMAIL_HEADERS = ("email", "e-mail", "email address", "e-mail address", "emailaddress", "email_address", "mail")
EXPORT_COLUMNS = ("email", "reason", "source", "created")


@dataclass
class SuppressResult:
    """What an add or import did: new rows, rows already there, and every bad address."""

    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    problems: list[NewsletterError] = field(default_factory=list)


def suppress_addresses(db: journal.Db, entries: Iterable[tuple[int | None, str]], *,
                       reason: str, source: str, path: Path | str | None = None) -> SuppressResult:
    """Suppress each (line, address); bad ones become problems naming `path:line`."""
    result = SuppressResult()
    good: dict[str, None] = {}
    for line, value in entries:
        try:
            if not value.strip():
                raise ValueError("the cell is empty")
            good[checked_key(value)] = None
        except ValueError as exc:
            result.problems.append(NewsletterError(
                f"not an email address: {value!r} ({exc})", path=path, line=line if path else None,
                field="email" if path else None, hint="fix or delete the row, then import again" if path else None,
            ))
    existing = journal.suppressed_addresses(db)
    new = [email for email in good if email not in existing]
    result.already = [email for email in good if email in existing]
    journal.suppress_many(db, [(email, reason, source) for email in new])
    result.added = new
    return result


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NewsletterError(f"cannot read the opt-out list: {exc.strerror}", path=path) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # an older Excel "CSV" export


def _rows(text: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of each non-blank record; the delimiter is guessed from the header."""
    header = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","
    yield from csv_records(io.StringIO(text, newline=""), delimiter=delimiter, path=path)


def read_optouts(path: Path) -> list[tuple[int, str]]:
    """(line, address cell) for every row of a CSV whose header has an `email` column."""
    rows = _rows(_decode(path), path)
    first = next(rows, None)
    names = [h.strip().lower() for h in first[1]] if first else []
    column = next((names.index(h) for h in _EMAIL_HEADERS if h in names), None)
    if column is None:
        found = ", ".join(shown_cell(n) for n in names if n) or "nothing"
        raise NewsletterError(f"no `email` column in the header row (found: {found})", path=path, line=1,
                              hint="the first row must name the columns, one of them `email`")
    return [(line, cells[column].strip() if column < len(cells) else "") for line, cells in rows]


def import_optouts(db: journal.Db, path: Path, *, reason: str = SuppressionReason.UNSUBSCRIBED) -> SuppressResult:
    """Suppress every address in a CRM opt-out export; source `csv:<file name>`."""
    return suppress_addresses(db, read_optouts(path), reason=reason, source=f"csv:{path.name}", path=path)


def write_suppressions(rows: Iterable[journal.Suppression], out: TextIO) -> int:
    """The list as CSV (`email,reason,source,created`), readable by `suppress import` too."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in (row.key, row.reason, row.source, row.created)])
        count += 1
    return count


def export_suppressions(db: journal.Db, path: Path) -> int:
    """Write the list to `path` atomically; returns the row count."""
    path = Path(path)
    text = io.StringIO(newline="")
    count = write_suppressions(journal.list_suppressions(db), text)
    try:
        atomic_write(path, text.getvalue(), mode=0o600)  # addresses: private like the state
    except OSError as exc:
        raise NewsletterError(f"cannot write the export: {exc.strerror}", path=path) from exc
    return count
