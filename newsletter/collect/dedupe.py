"""How `collect` knows an entry was collected before: dedupe keys.

An item's keys are its feed guid (a bare id like `1041` qualified by its link's host),
each link normalised and its title with its date. An entry whose keys meet those of an
item file under items/ (however renamed or edited since) or of the state file's record
of what `collect` wrote is not written again. (Duplicates among item files themselves
are reported by the loader: `items.duplicate_errors`.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from newsletter.collect.feedhtml import strip_tracking
from newsletter.errors import NewsletterError
from newsletter.yamldoc import parse_yaml

__all__ = [
    "item_keys",
    "known_keys",
    "normalise_link",
]


def normalise_link(url: str) -> str:
    """Links that lead to the same page compare equal: scheme and host lower-cased (http
    taken as https), fragment, utm_* parameters and a trailing slash dropped."""
    parts = urlsplit(strip_tracking(url.strip()))
    scheme = parts.scheme.lower()
    scheme = "https" if scheme == "http" else scheme
    return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), parts.query, ""))


def _guid_key(guid: str, link: str) -> str:
    """A guid like `tag:...` or a URL is unique on its own; a bare id like `1041` only
    within its site, so it is keyed with the host of the item's link."""
    if ":" in guid:
        return f"guid:{guid}"
    return f"guid:{(urlsplit(link).hostname or '').lower()}/{guid}"


def item_keys(guid: str | None, links: Sequence[str], title: str, date: str) -> tuple[str, ...]:
    """Every key an entry is known by; sharing any one with a known item makes it a repeat."""
    keys = [_guid_key(guid, links[0] if links else "")] if guid else []
    keys += [f"link:{normalise_link(url)}" for url in links if url]
    if title and date:
        keys.append(f"title:{date}:{' '.join(title.casefold().split())}")
    return tuple(keys)


_KEY_LINE = re.compile(r"^\s*(?:-\s*)?(guid|url):\s*['\"]?(.+?)['\"]?\s*$", re.MULTILINE)


def _keys_of(data: Any) -> set[str]:
    keys: set[str] = set()
    for entry in data if isinstance(data, list) else [data]:
        if not isinstance(entry, dict):
            continue
        links = entry.get("links")
        links = links if isinstance(links, list) else [links]
        urls = [str(link["url"]) for link in links if isinstance(link, dict) and link.get("url")]
        guid = entry.get("guid")
        keys.update(item_keys(str(guid) if guid else None, urls, str(entry.get("title") or ""),
                              str(entry.get("date") or "")))
    return keys


def known_keys(items_dir: Path) -> set[str]:
    """Dedupe keys of every item file under items/, read leniently: a file with a YAML
    error still gives the guids and URLs written on its lines."""
    keys: set[str] = set()
    if not items_dir.is_dir():
        return keys
    for path in [*items_dir.rglob("*.yaml"), *items_dir.rglob("*.yml")]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        try:
            keys |= _keys_of(parse_yaml(text, path))
        except NewsletterError:
            found = _KEY_LINE.findall(text)
            urls = [value for kind, value in found if kind == "url"]
            for guid in [value for kind, value in found if kind == "guid"] or [None]:
                keys.update(item_keys(guid, urls, "", ""))
    return keys
