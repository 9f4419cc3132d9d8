"""What `collect` reads from: the SOURCE arguments, or the config's `sources:` -> `Source`s.

A source is an http(s) URL, a feed file or a spreadsheet (.csv). It carries the items'
`source` name, its own theme rules and a theme for when they match nothing, so a feed
named on the command line that is also in the config keeps what the config says of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.collect.feeds import is_web_url
from newsletter.config import Config, SourceConfig
from newsletter.errors import CollectError

__all__ = [
    "Source",
    "resolve_sources",
]


@dataclass(frozen=True)
class Source:
    """Where items come from: an http(s) URL, a feed file or a .csv file."""

    location: str  # the URL, or the file path as given
    name: str = ""  # the items' `source`; "" = the feed's own title
    theme: str | None = None
    rules: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = None  # set for local files

    @property
    def is_csv(self) -> bool:
        return self.path is not None and self.path.suffix.lower() == ".csv"


def _configured(config: Config, entry: SourceConfig) -> Source:
    if is_web_url(entry.url):
        return Source(entry.url, entry.name, entry.theme, entry.rules)
    path = (config.root / entry.url).resolve()
    return Source(entry.url, entry.name, entry.theme, entry.rules, path)


def resolve_sources(config: Config, given: Sequence[str]) -> list[Source]:
    """The SOURCE arguments (URLs or files), or the config's `sources:` when none are given.
    A given source that is also in the config keeps the config's name, theme and rules."""
    configured = [_configured(config, s) for s in config.sources]
    if not given:
        return configured
    sources: list[Source] = []
    for arg in dict.fromkeys(given):
        if "://" in arg and not is_web_url(arg):
            raise CollectError(f"{arg}: only http(s) URLs and local files can be collected",
                               hint="give a file as a path, e.g. exports/items.csv")
        path = None if is_web_url(arg) else Path(arg).resolve()
        match = next((s for s in configured if (path is not None and s.path == path) or s.location == arg), None)
        sources.append(match or Source(arg, path=path))
    return sources
