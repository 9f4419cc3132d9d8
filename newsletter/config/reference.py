"""The tables of the configuration reference, written from the key table (schema.py).

`docs/reference/config.md` is prose around generated tables: each table sits between a
`<!-- keys: SECTION -->` line (`top` for the top level) and `<!-- end of keys -->`, and `render_page` rewrites
what lies between from the table. The page is committed (readable on GitHub and in an
editor); a test fails when it differs from what `render_page` makes. To update it:

    python -m newsletter.config.reference docs/reference/config.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from newsletter.config.schema import REQUIRED, SECTIONS, Key, Section

__all__ = ["DOCS_THEME", "render_page", "table"]

DOCS_THEME = "Neglect"  # the theme the reference's examples name
_KIND_WORDS = {"text": "text", "path": "path (relative to the config)", "int": "whole number", "float": "number",
               "flag": "true/false", "list": "list", "mapping": "mapping"}
_BLOCK = re.compile(r"(<!-- keys: ([a-z_]+) -->\n)(.*?)(<!-- end of keys -->)", re.S)


def shown_default(key: Key) -> str:
    """The default as the reference writes it."""
    if key.shown:
        return key.shown
    return "required" if key.default is REQUIRED else _value(key.default)


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"`{value}`" if isinstance(value, str) else str(value)


def _meaning(key: Key) -> str:
    example = key.example.replace("<theme>", DOCS_THEME)
    text = f"{key.help}: `{example}`" if example else key.help
    return f"{text} {key.more}" if key.more else text


def table(section: Section) -> str:
    """One Markdown table: key, type, default, meaning (with an example where useful)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in section.keys:
        kind = key.type or _KIND_WORDS[key.kind]
        rows.append(f"| `{key.name}` | {kind} | {shown_default(key)} | {_meaning(key)} |")
    return "\n".join(rows) + "\n"


def render_page(page: str) -> str:
    """The page with every marked table rewritten from the key table."""
    return _BLOCK.sub(lambda m: m[1] + "\n" + table(SECTIONS["" if m[2] == "top" else m[2]]) + "\n" + m[4], page)


def main(argv: list[str]) -> int:
    """Rewrite the page(s) named on the command line; say which changed."""
    for name in argv:
        path = Path(name)
        old = path.read_text(encoding="utf-8")
        new = render_page(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
