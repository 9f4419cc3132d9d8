"""The one exception family for user-facing failures.

Every error a user can fix is a `NewsletterError`: it names the file, line and field
where known, and carries a hint saying how to fix it. The CLI catches this family once
and prints `error: FILE:LINE: field: message (hint)`; anything else is a real bug and
keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "NewsletterError",
    "ConfigError",
    "ItemError",
    "BuildError",
    "SendError",
    "CollectError",
    "CsvError",
    "ErrorList",
]


class NewsletterError(Exception):
    """A failure the user can fix; `str()` is the one-line message the CLI prints."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        field = f"{self.field}: " if self.field else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{field}{self.message}{hint}"

    def lines(self) -> list[str]:
        """The lines to print; an `ErrorList` has one per error."""
        return [str(self)]


class ConfigError(NewsletterError):
    """`newsletter.yaml` is missing, malformed or has a bad value."""


class ItemError(NewsletterError):
    """An item file is malformed or an item breaks the item contract."""


class BuildError(NewsletterError):
    """The issue cannot be built: empty range, template error, unwritable output."""


class SendError(NewsletterError):
    """Sending cannot start or cannot go on (bad subscribers, SMTP refused, ...)."""


class CollectError(NewsletterError):
    """A source cannot be collected (HTTP error, timeout, not a feed) or a spreadsheet row is bad."""


class CsvError(NewsletterError):
    """A CSV file is broken at a line: an unclosed quote, an over-long cell, swallowed rows."""


class ErrorList(NewsletterError):
    """Several errors found in one pass, reported together (never just the first)."""

    def __init__(self, errors: Iterable[NewsletterError]) -> None:
        self.errors = list(errors)
        first = self.errors[0] if self.errors else None
        super().__init__(
            str(first) if first else "no errors",
            path=first.path if first else None,
            line=first.line if first else None,
        )

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    def lines(self) -> list[str]:
        return [line for e in self.errors for line in e.lines()]


def raise_all(errors: list[NewsletterError]) -> None:
    """Raise every collected error at once, or nothing if the list is empty."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ErrorList(errors)
