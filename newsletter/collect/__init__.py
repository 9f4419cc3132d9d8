"""The collect stage: RSS/Atom feeds and spreadsheets in, new item files out.

Takes SOURCE arguments (or the config's `sources`), a `DateRange` and the `Config`;
downloads and parses the feeds, reads CSV rows, picks a theme for each entry, drops
what was collected before, and writes one YAML item file per new entry
(`CollectReport`, one `SourceReport` per source).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.collect.itemfiles import dated_file_names, write_item_file
    from newsletter.collect.run import CollectReport, SourceReport, collect
    from newsletter.collect.spreadsheet import read_spreadsheet

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "collect": "newsletter.collect.run",
    "CollectReport": "newsletter.collect.run",
    "dated_file_names": "newsletter.collect.itemfiles",
    "read_spreadsheet": "newsletter.collect.spreadsheet",
    "SourceReport": "newsletter.collect.run",
    "write_item_file": "newsletter.collect.itemfiles",
}

__all__ = [
    "collect",
    "CollectReport",
    "dated_file_names",
    "read_spreadsheet",
    "SourceReport",
    "write_item_file",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
