"""The subscriber list: a CSV file in, validated and deduplicated `Subscriber`s out.

The CSV contract (DESIGN.md): a header row with at least `email`; optional `name`,
`first_name` (for the greeting), `status` (`subscribed`/`unsubscribed`), `themes` and
`language` (one of the config's `languages`; blank = the config's `language`).
Excel exports work: a UTF-8 BOM, `;` or tab as the delimiter (guessed from the header row), CRLF line ends and quoted
names with commas. Names longer than 100 characters are cut short. Addresses are
checked with email-validator (syntax only, no DNS); each bad row is reported with its
line number and skipped, or, with `strict`, every bad row is raised at once. Addresses
compare case-insensitively and duplicates are kept once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from newsletter.addresses import AddressChecker, address_key
from newsletter.config import pick_text
from newsletter.errors import ErrorList, SendError
from newsletter.files import csv_records, shown_cell

__all__ = [
    "MAX_NAME",
    "RowProblem",
    "Subscriber",
    "SubscriberList",
    "parse_themes",
    "read_subscribers",
]

_DELIMITERS = (",", ";", "\t")
_EMAIL_HEADERS = ("email", "e-mail", "email address", "e-mail address", "mail")
MAX_NAME = 100  # characters; keeps the encoded `To:` line far below SMTP's 998 octets
_STATUSES = {"": "subscribed", "subscribed": "subscribed", "unsubscribed": "unsubscribed"}


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One recipient: the address to deliver to, the name for `To` and the greeting.

    `themes` is the row's optional theme selection (None = everything); issue 9 uses it
    to pick a per-selection variant of the message.
    """

    email: str
    name: str = ""
    themes: tuple[str, ...] | None = None
    line: int = 0
    first_name: str = ""  # the optional `first_name` column: what the greeting calls them
    language: str = ""  # the optional `language` column: which version they receive ("" = the config's)

    @property
    def key(self) -> str:
        """The address as compared and stored (`addresses.address_key`)."""
        return address_key(self.email)


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped, with its line number so the officer can fix the file."""

    line: int
    value: str
    reason: str


@dataclass
class SubscriberList:
    path: Path
    subscribers: list[Subscriber] = field(default_factory=list)  # to receive, deduplicated
    unsubscribed: list[Subscriber] = field(default_factory=list)  # `status: unsubscribed`
    invalid: list[RowProblem] = field(default_factory=list)
    duplicates: list[RowProblem] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.subscribers) + len(self.unsubscribed) + len(self.invalid) + len(self.duplicates)


def parse_themes(value: str) -> tuple[str, ...] | None:
    """`Online safety;Neglect` or `Online safety|Neglect` -> a tuple; blank -> None (all themes)."""
    themes = tuple(" ".join(t.split()) for t in re.split(r"[;|]", value) if t.strip())
    return themes or None


def _open(path: Path) -> TextIO:
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError as exc:
        raise SendError("subscriber list not found", path=path,
                        hint="pass --subscribers FILE or put subscribers.csv beside the config") from exc
    except OSError as exc:
        raise SendError(f"cannot read the subscriber list: {exc.strerror}", path=path) from exc


def _not_utf8(path: Path) -> SendError:
    """Which line is not UTF-8 (the file is read as a stream, so look again, in bytes)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
        line = None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
    return SendError("not UTF-8 text", path=path, line=line,
                     hint='in Excel use "Save as: CSV UTF-8 (Comma delimited)"')


def _delimiter(header: str) -> str:
    """The delimiter Excel used: whichever of `,` `;` tab occurs most in the header row."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    columns = {}
    for wanted, aliases in (("email", _EMAIL_HEADERS), ("name", ("name", "full name")),
                            ("status", ("status",)), ("themes", ("themes", "theme")),
                            ("first_name", ("first_name", "first name", "given name")),
                            ("language", ("language", "lang"))):
        for alias in aliases:
            if alias in names:
                columns[wanted] = names.index(alias)
                break
    if "email" not in columns:
        found = ", ".join(shown_cell(h) for h in header if h.strip()) or "nothing"
        raise SendError(f"no `email` column in the header row (found: {found})", path=path, line=1,
                        hint="the first row must name the columns: email,name,status,themes")
    return columns


def read_subscribers(path: Path, *, strict: bool = False, languages: tuple[str, ...] = ()) -> SubscriberList:
    """Read, validate and deduplicate the list; bad rows are collected, not fatal (unless strict).
    A `language` must be one of `languages` (the config's; none given: any is kept).

    The file is streamed: memory holds the subscribers, not the file's text as well.
    """
    path = Path(path)
    result = SubscriberList(path)
    seen: dict[str, Subscriber] = {}
    try:
        with _open(path) as fh:
            delimiter = _delimiter(fh.readline())
            fh.seek(0)
            rows = csv_records(fh, delimiter=delimiter, path=path)
            first = next(rows, None)
            if first is None:
                raise SendError("the subscriber list is empty", path=path,
                                hint="it needs a header row with an `email` column and one row per subscriber")
            columns = _columns(path, first[1])
            check = AddressChecker()
            for line, cells in rows:
                if len(cells) > len(first[1]):  # shifted: a name with an unquoted delimiter
                    result.invalid.append(RowProblem(line, delimiter.join(cells)[:80],
                                                     f"{len(cells)} cells but the header has {len(first[1])} "
                                                     "columns (quote a cell that contains the delimiter)"))
                    continue
                _add_row(result, seen, check, line, cells, columns, languages)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path) from exc
    if strict and result.invalid:
        raise ErrorList([SendError(f"{p.reason} ({p.value!r})", path=path, line=p.line, field="email")
                         for p in result.invalid])
    unsubscribed = {s.key for s in result.unsubscribed}
    result.subscribers = [s for s in seen.values() if s.key not in unsubscribed]
    return result


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _add_row(result: SubscriberList, seen: dict[str, Subscriber], check: AddressChecker, line: int,
             cells: list[str], columns: dict[str, int], languages: tuple[str, ...] = ()) -> None:
    raw = _cell(cells, columns, "email")
    language = _language(_cell(cells, columns, "language"), languages)
    status = _STATUSES.get(_cell(cells, columns, "status").lower())
    if not raw:
        result.invalid.append(RowProblem(line, raw, "no email address"))
        return
    if status is None:
        result.invalid.append(RowProblem(line, _cell(cells, columns, "status"),
                                         "unknown status: use subscribed or unsubscribed"))
        return
    if language is None:
        result.invalid.append(RowProblem(line, _cell(cells, columns, "language")[:80],
                                         f"unknown language: use one of {', '.join(languages)} "
                                         "(the config's `languages`)"))
        return
    try:
        email = check(raw)
    except ValueError as exc:
        result.invalid.append(RowProblem(line, raw, f"not a valid address: {exc}"))
        return
    name = " ".join(_cell(cells, columns, "name").split())[:MAX_NAME].strip()
    first_name = " ".join(_cell(cells, columns, "first_name").split())[:MAX_NAME].strip()
    subscriber = Subscriber(email, name, parse_themes(_cell(cells, columns, "themes")), line, first_name,
                            language)
    if status == "unsubscribed":
        result.unsubscribed.append(subscriber)
    elif subscriber.key in seen:
        result.duplicates.append(RowProblem(line, raw, f"same address as line {seen[subscriber.key].line}"))
    else:
        seen[subscriber.key] = subscriber


def _language(value: str, languages: tuple[str, ...]) -> str | None:
    """The row's language as the config spells it (`CY` -> `cy`, `en` -> `en-GB`); "" for none; None if the
    newsletter does not offer it (a reader must not silently get another language)."""
    if not value:
        return ""
    if not languages:
        return value
    return pick_text({tag: tag for tag in languages}, value)  # `cy` reads as `cy-GB`, as the config's texts do
