"""Counted nouns for what the commands print: "1 duplicate row", "2 duplicate rows".

Kept in the CLI package because only printing needs it; the stages hand over numbers and
singular nouns, and each command says them with agreement.
"""

from __future__ import annotations

__all__ = ["plural"]

# nouns whose plural is not the singular plus "s"
_IRREGULAR = {"address": "addresses", "recipient was": "recipients were", "subscriber has": "subscribers have"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`count` and the noun that agrees with it: plural(1, "item") -> "1 item"."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun) or noun + 's'}"
