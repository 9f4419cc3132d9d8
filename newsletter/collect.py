"""The collect stage: feeds and spreadsheets -> new item files in items/.

For each source: download (or read) it, turn each entry dated in the range into an
`Item`, give it a theme by the config's rules, and write it as `items/DATE-slug.yaml`
unless it was collected before. "Before" means: an item file under items/ has the same
guid, the same link (normalised) or the same title and date, however the officer has
renamed or edited that file since; or the state file records that `collect` once wrote
it (so deleting an unwanted item keeps it away). Files are never overwritten: a taken
name gets `-2`, `-3`, ... and the file is created exclusively.

One source failing (HTTP error, timeout, not a feed, bad spreadsheet rows) never stops
the others; its error is in its `SourceReport`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
import sqlite3
import tempfile
import textwrap
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from . import journal
from .config import Config, SourceConfig, theme_key
from .errors import CollectError, ItemError, NewsletterError
from .feedhtml import strip_tracking
from .feeds import (
    Download,
    Feed,
    FeedEntry,
    fetch_feed,
    is_web_url,
    link_label,
    parse_feed,
    read_feed_file,
)
from .issue import DateRange
from .items import Image, Item, Link, parse_items
from .spreadsheet import read_spreadsheet
from .yamldoc import parse_yaml

__all__ = [
    "DEFAULT_TIMEOUT",
    "CollectReport",
    "NewItem",
    "Source",
    "SourceReport",
    "choose_theme",
    "collect",
    "item_keys",
    "item_yaml",
    "known_keys",
    "normalise_link",
    "resolve_sources",
]

DEFAULT_TIMEOUT = 20.0
MAX_PARALLEL_DOWNLOADS = 6


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


@dataclass(frozen=True)
class NewItem:
    path: Path  # where the item file is (or, in a dry run, would be) written
    item: Item
    keys: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what the officer should look at besides the theme
    theme_line: int = 0  # line of `theme:` in the file


@dataclass
class SourceReport:
    source: Source
    label: str
    new: list[NewItem] = field(default_factory=list)
    known: int = 0  # collected before
    outside: int = 0  # dated outside the range
    not_modified: bool = False  # the server answered 304; the kept copy was read
    warning: str | None = None
    error: NewsletterError | None = None  # the source could not be read at all
    problems: list[NewsletterError] = field(default_factory=list)  # entries/rows left out


@dataclass(frozen=True)
class CollectReport:
    range: DateRange
    dry_run: bool
    sources: tuple[SourceReport, ...]

    @property
    def new(self) -> list[NewItem]:
        return [n for s in self.sources for n in s.new]

    @property
    def needs_theme(self) -> list[NewItem]:
        return [n for n in self.new if not n.item.theme]

    @property
    def all_failed(self) -> bool:
        return bool(self.sources) and all(s.error is not None for s in self.sources)


# --- sources --------------------------------------------------------------------------


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


# --- dedupe ---------------------------------------------------------------------------


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


# --- themes ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _keyword(word: str) -> re.Pattern[str]:
    prefix = word.endswith("*")
    body = re.escape(word.rstrip("*").strip().casefold()).replace(r"\ ", r"\s+")
    end = "" if prefix else r"(?!\w)"
    return re.compile(r"(?<!\w)" + body + end)


def _rule_matches(words: list[str], text: str, tags: set[str]) -> bool:
    for word in words:
        if word.startswith("tag:"):
            if theme_key(word[4:]) in tags:
                return True
        elif theme_key(word) in tags or _keyword(word).search(text):
            return True
    return False


def _match(rules: dict[str, list[str]], text: str, tags: set[str]) -> str | None:
    return next((theme for theme, words in rules.items() if _rule_matches(words, text, tags)), None)


def choose_theme(config: Config, source: Source, *, title: str, text: str,
                 tags: Sequence[str] = ()) -> str:
    """The source's own rules, else the source's `theme`, else the global `theme_rules`,
    each in the order written; the first rule that matches wins; "" if none does."""
    haystack = f"{title}\n{text}".casefold()
    tag_keys = {theme_key(t) for t in tags}
    return (_match(source.rules, haystack, tag_keys) or source.theme
            or _match(config.theme_rules, haystack, tag_keys) or "")


# --- item files -----------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as in the README's item example."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_str)


_BLOCK_START = re.compile(r"^(?:[-+*]|#{1,6}|>|\d+[.)]|=+|`{3,}|~{3,})(?:\s|$)")
_MARKER = re.compile(r"^(?:[-+*] |\d+[.)] |> )")


def _wrap_markdown(markdown: str, width: int = 84) -> str:
    """Markdown wrapped for a person editing the file; a wrapped line never starts with
    something that would make it a list item, heading or quote."""
    out: list[str] = []
    for line in markdown.splitlines():
        marker = _MARKER.match(line)
        indent = "> " if marker and marker[0] == "> " else " " * (len(marker[0]) if marker else 0)
        wrapped = textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                                break_on_hyphens=False) or [""]
        merged = [wrapped[0]]
        for part in wrapped[1:]:
            if _BLOCK_START.match(part[len(indent):]):
                merged[-1] += " " + part[len(indent):]
            else:
                merged.append(part)
        out.extend(merged)
    return "\n".join(out)


def item_yaml(item: Item, config: Config, *, origin: str = "") -> str:
    """The item file's text: fields in the README's order, the summary as a block."""
    data: dict[str, Any] = {
        "title": item.title,
        "date": item.date,
        "source": item.source,
        "theme": item.theme,
        "summary": _wrap_markdown(item.summary.strip()) + "\n",
        "links": [{"label": link.label, "title": link.title, "url": link.url} for link in item.links],
    }
    if item.see_also:
        data["see_also"] = [{"title": s.title, "url": s.url} for s in item.see_also]
    if item.image:
        data["image"] = {"src": item.image.src, "alt": item.image.alt}
    if item.guid:
        data["guid"] = item.guid
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=88)
    if not item.theme:
        text = text.replace("\ntheme: ''\n", f'\ntheme: ""  # needs a theme: one of {", ".join(config.themes)}\n', 1)
    head = f"# Collected by `newsletter collect` from {origin}\n" if origin else ""
    return head + text


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > 60:
        slug = slug[:61].rsplit("-", 1)[0]
    return slug or "item"


def _names(item: Item) -> list[str]:
    base = f"{item.date.isoformat()}-{_slug(item.title)}"
    return [f"{base}.yaml"] + [f"{base}-{n}.yaml" for n in range(2, 1000)]


def _create(tmp: Path, target: Path, text: str) -> None:
    """`target` with `text`, or FileExistsError; a hard link publishes the complete file
    at once; where links are not supported, an exclusive create does."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:
        with open(target, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def _write_new(folder: Path, names: list[str], text: str) -> Path:
    """Create the first free name exclusively (hard link of a complete temp file), so an
    existing file is never overwritten, even by a concurrent run."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".collect-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        for name in names:
            try:
                _create(Path(tmp), folder / name, text)
            except FileExistsError:
                continue
            return folder / name
    except OSError as exc:
        raise CollectError(f"cannot write an item file: {exc.strerror}", path=folder) from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    raise CollectError("too many files with the same name", path=folder / names[0])


# --- the run --------------------------------------------------------------------------


@dataclass
class _Run:
    config: Config
    range: DateRange
    dry_run: bool
    db: sqlite3.Connection | None
    known: set[str]
    planned: set[str] = field(default_factory=set)  # names taken in a dry run

    def display(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.config.root))
        except ValueError:
            return str(path)

    def admit(self, report: SourceReport, item: Item, notes: tuple[str, ...] = ()) -> None:
        """Write `item` unless it is outside the range or collected before."""
        if item.date not in self.range:
            report.outside += 1
            return
        keys = item_keys(item.guid, [link.url for link in item.links], item.title, item.date.isoformat())
        if self.known.intersection(keys):
            report.known += 1
            return
        text = item_yaml(item, self.config, origin=report.source.location)
        names = _names(item)
        shown = self.display(self.config.items_dir / names[0])
        found, problems = parse_items(parse_yaml(text, shown), shown)
        for problem in problems:  # e.g. a feed link that is not a usable URL
            report.problems.append(CollectError(
                f"entry {item.title[:60]!r}: {problem.field or 'item'}: {problem.message}; left out",
                path=report.source.location, hint=problem.hint))
        if problems or not found:
            return
        if self.dry_run:
            name = next(n for n in names if n not in self.planned and not (self.config.items_dir / n).exists())
            self.planned.add(name)
            path = self.config.items_dir / name
        else:
            path = _write_new(self.config.items_dir, names, text)
            if self.db is not None:
                journal.record_collected(self.db, keys, source=report.source.location, file=self.display(path))
        self.known.update(keys)
        theme_line = next((i for i, line in enumerate(text.splitlines(), 1) if line.startswith("theme:")), 0)
        report.new.append(NewItem(path, item, keys, notes, theme_line))


def _open_state(config: Config, dry_run: bool) -> sqlite3.Connection | None:
    if dry_run and not config.state_file.exists():
        return None
    return journal.connect(config.state_file)


def _download_all(sources: list[Source], db: sqlite3.Connection | None,
                  timeout: float) -> dict[str, Download | NewsletterError]:
    """Every web source at once (a slow site delays only itself), each within `timeout`."""
    web = [s.location for s in sources if s.path is None]
    cached = {url: journal.get_feed_cache(db, url) if db is not None else None for url in web}

    def one(url: str) -> Download | NewsletterError:
        try:
            return fetch_feed(url, timeout=timeout, cached=cached[url])
        except NewsletterError as exc:
            return exc

    if not web:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_DOWNLOADS, len(web))) as pool:
        return dict(zip(web, pool.map(one, web)))


def _feed_item(run: _Run, source: Source, feed: Feed, entry: FeedEntry) -> tuple[Item, tuple[str, ...]]:
    title = entry.title
    theme = choose_theme(run.config, source, title=title, text=entry.summary.text, tags=entry.tags)
    summary = entry.summary.markdown
    notes: tuple[str, ...] = ()
    if not summary:
        summary, notes = title, ("the feed gave no summary: the title stands in",)
    name = source.name or feed.title or (urlsplit(source.location).hostname or source.location)
    image = Image(entry.image.src, entry.image.alt) if entry.image else None
    link = Link(link_label(title, entry.tags), title, entry.link)
    assert entry.date is not None  # undated entries are reported, not collected
    item = Item(title=title, date=entry.date, source=name, theme=theme, summary=summary,
                links=(link,), image=image, guid=entry.guid or None)
    return item, notes


def _entry_problem(where: str, entry: FeedEntry) -> NewsletterError | None:
    what = f"entry {entry.position}" + (f" {entry.title[:60]!r}" if entry.title else "")
    if not entry.title:
        return CollectError(f"{what} has no title; left out", path=where)
    if not entry.link:
        return CollectError(f"{what} has no http(s) link; left out", path=where,
                            hint="collect only writes items that link to a web page")
    if entry.date is None:
        return CollectError(f"{what} has no date; left out", path=where, hint="add it by hand if it belongs in the issue")
    return None


def _collect_feed(run: _Run, report: SourceReport, body: bytes, *, url: str | None, content_type: str) -> None:
    feed = parse_feed(body, where=report.source.location, url=url, content_type=content_type)
    report.label = report.source.name or feed.title or report.source.location
    report.warning = feed.warning
    for entry in feed.entries:
        problem = _entry_problem(report.source.location, entry)
        if problem is not None:
            if entry.date is None or entry.date in run.range:
                report.problems.append(problem)
            else:
                report.outside += 1
            continue
        item, notes = _feed_item(run, report.source, feed, entry)
        run.admit(report, item, notes)


def _csv_theme(run: _Run, source: Source, item: Item) -> Item | ItemError:
    if not item.theme:
        theme = choose_theme(run.config, source, title=item.title, text=item.summary)
        return dataclasses.replace(item, theme=theme)
    configured = run.config.theme_named(item.theme)
    if configured is None:
        close = difflib.get_close_matches(theme_key(item.theme), [theme_key(t) for t in run.config.themes], n=1)
        hint = (f"did you mean {run.config.theme_named(close[0])!r}?" if close
                else f"use one of: {', '.join(run.config.themes)}, or leave it empty")
        return ItemError(f"unknown theme {item.theme!r}", path=item.path, line=item.line, field="theme", hint=hint)
    return dataclasses.replace(item, theme=configured)


def _collect_csv(run: _Run, report: SourceReport, path: Path) -> None:
    """All rows or none: a spreadsheet with a bad row writes nothing until it is fixed,
    so a corrected row is never mistaken for one collected before."""
    report.label = report.source.name or path.name
    items, errors = read_spreadsheet(path, shown=report.source.location, default_source=report.source.name)
    themed = [_csv_theme(run, report.source, item) for item in items]
    errors += [t for t in themed if isinstance(t, NewsletterError)]
    if errors:
        report.problems.extend(errors)
        report.error = CollectError(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the spreadsheet; "
                                    "nothing written from it", path=report.source.location,
                                    hint="fix the rows named below and run collect again")
        return
    for item in themed:
        assert isinstance(item, Item)
        run.admit(report, item)


def _collect_one(run: _Run, source: Source, download: Download | NewsletterError | None) -> SourceReport:
    report = SourceReport(source, source.name or source.location)
    try:
        if source.is_csv:
            assert source.path is not None
            _collect_csv(run, report, source.path)
        elif source.path is not None:
            _collect_feed(run, report, read_feed_file(source.path), url=None, content_type="")
        elif isinstance(download, NewsletterError):
            report.error = download
        elif download is not None:
            report.not_modified = download.not_modified
            _collect_feed(run, report, download.body, url=download.url, content_type=download.content_type)
            if not run.dry_run and run.db is not None and not download.not_modified \
                    and (download.etag or download.last_modified):
                journal.put_feed_cache(run.db, download.cache())
    except NewsletterError as exc:
        report.error = exc
    return report


def collect(config: Config, given: Sequence[str], date_range: DateRange, *, dry_run: bool = False,
            timeout: float = DEFAULT_TIMEOUT) -> CollectReport:
    """Collect every source into items/; see the module docstring for the rules."""
    sources = resolve_sources(config, given)
    if not sources:
        raise CollectError("no sources to collect", path=config.path,
                           hint="name a feed URL or a file, or list feeds under `sources:` in the config")
    db = _open_state(config, dry_run)
    try:
        known = known_keys(config.items_dir) | (journal.collected_keys(db) if db is not None else set())
        run = _Run(config, date_range, dry_run, db, known)
        downloads = _download_all(sources, db, timeout)
        reports = [_collect_one(run, s, downloads.get(s.location)) for s in sources]
    finally:
        if db is not None:
            db.close()
    return CollectReport(date_range, dry_run, tuple(reports))
