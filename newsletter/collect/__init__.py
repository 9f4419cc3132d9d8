"""The collect stage: RSS/Atom feeds and spreadsheets in, new item files out.

Takes SOURCE arguments (or the config's `sources`), a `DateRange` and the `Config`;
downloads and parses the feeds, reads CSV rows, picks a theme for each entry, drops
what was collected before, and writes one YAML item file per new entry
(`CollectReport`, one `SourceReport` per source).
"""

from __future__ import annotations

from newsletter.collect.run import CollectReport, SourceReport, collect

__all__ = ["CollectReport", "SourceReport", "collect"]
