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

The parts have their own modules: `sources.py` (what to read), `themerules.py` (which
theme), `dedupe.py` (collected before?), `itemfiles.py` (writing the files); this one
runs them over every source and reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsletter import journal
from newsletter.collect.dedupe import item_keys, known_keys
from newsletter.collect.feeds import (
    Download,
    Feed,
    FeedEntry,
    fetch_feed,
    link_label,
    parse_feed,
    read_feed_file,
)
from newsletter.collect.itemfiles import item_file_names, item_yaml, write_item_file
from newsletter.collect.sources import Source, resolve_sources
from newsletter.collect.spreadsheet import read_spreadsheet
from newsletter.collect.themerules import choose_theme
from newsletter.config import Config
from newsletter.daterange import DateRange
from newsletter.errors import CollectError, NewsletterError
from newsletter.issue import Image, Item, Link, parse_items
from newsletter.yamldoc import parse_yaml

__all__ = ["CollectReport", "NewItem", "SourceReport", "collect"]

MAX_PARALLEL_DOWNLOADS = 6


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


# --- the run --------------------------------------------------------------------------


@dataclass
class _Run:
    config: Config
    range: DateRange
    dry_run: bool
    db: journal.Db | None
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
        names = item_file_names(item)
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
            path = write_item_file(self.config.items_dir, names, text)
            if self.db is not None:
                journal.record_collected(self.db, keys, source=report.source.location, file=self.display(path))
        self.known.update(keys)
        theme_line = next((i for i, line in enumerate(text.splitlines(), 1) if line.startswith("theme:")), 0)
        report.new.append(NewItem(path, item, keys, notes, theme_line))


def _open_state(config: Config, dry_run: bool) -> journal.Db | None:
    if dry_run and not journal.exists(config.state):
        return None
    return journal.connect(config.state)


def _download_all(sources: list[Source], db: journal.Db | None, timeout: float,
                  progress: Callable[[str], None]) -> dict[str, Download | NewsletterError]:
    """Every web source at once (a slow site delays only itself), each within `timeout`."""
    web = [s.location for s in sources if s.path is None]
    cached = {url: journal.get_feed_cache(db, url) if db is not None else None for url in web}
    done = iter(range(1, len(web) + 1))

    def one(url: str) -> Download | NewsletterError:
        try:
            got: Download | NewsletterError = fetch_feed(url, timeout=timeout, cached=cached[url])
        except NewsletterError as exc:
            got = exc
        what = (f"failed ({got.message})" if isinstance(got, NewsletterError) else
                "not changed since last time" if got.not_modified else f"{len(got.body) / 1024:.0f} KB")
        progress(f"[{next(done)}/{len(web)}] {url}: {what}")
        return got

    if not web:
        return {}
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_DOWNLOADS, len(web))) as pool:
        return dict(zip(web, pool.map(one, web), strict=True))


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


def _csv_theme(run: _Run, source: Source, item: Item) -> Item:
    """The row's theme as configured (`read_spreadsheet` reported unknown ones), else the rules'."""
    if not item.theme:
        theme = choose_theme(run.config, source, title=item.title, text=item.summary)
        return dataclasses.replace(item, theme=theme)
    return dataclasses.replace(item, theme=run.config.theme_named(item.theme) or item.theme)


def _collect_csv(run: _Run, report: SourceReport, path: Path) -> None:
    """All rows or none: a spreadsheet with a bad row writes nothing until it is fixed,
    so a corrected row is never mistaken for one collected before."""
    report.label = report.source.name or path.name
    items, errors = read_spreadsheet(path, shown=report.source.location, default_source=report.source.name,
                                     themes=run.config.themes)
    if errors:
        report.problems.extend(errors)
        report.error = CollectError(f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in the spreadsheet; "
                                    "nothing written from it", path=report.source.location,
                                    hint="fix the rows named below and run collect again")
        return
    for item in items:
        run.admit(report, _csv_theme(run, report.source, item))


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
            timeout: float, progress: Callable[[str], None] | None = None) -> CollectReport:
    """Collect every source into items/; see the module docstring for the rules.
    `progress` hears one line per web source as its download ends, so a slow feed is
    visibly the one being waited for."""
    sources = resolve_sources(config, given)
    if not sources:
        raise CollectError("no sources to collect", path=config.path,
                           hint="name a feed URL or a file, or list feeds under `sources:` in the config")
    db = _open_state(config, dry_run)
    try:
        known = known_keys(config.items_dir) | (journal.collected_keys(db) if db is not None else set())
        run = _Run(config, date_range, dry_run, db, known)
        downloads = _download_all(sources, db, timeout, progress or (lambda line: None))
        reports = [_collect_one(run, s, downloads.get(s.location)) for s in sources]
    finally:
        if db is not None:
            db.close()
    return CollectReport(date_range, dry_run, tuple(reports))
