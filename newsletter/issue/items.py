"""The `Item` model and loading item files with FILE:LINE errors.

An item file holds one item (a mapping) or a list of them. Loading checks every item
and reports every problem in one pass, so the officer fixes a month's mistakes at once.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.config import language_problem, pick_text
from newsletter.errors import ItemError, NewsletterError, raise_all
from newsletter.yamldoc import LineMap, load_yaml

__all__ = ["MAX_SUMMARY", "Item", "Link", "SeeAlso", "Image", "load_items", "parse_items", "check_url", "field_lines"]

MAX_SUMMARY = 20_000  # characters; a real summary is a paragraph or two, and 102 KB clips the email
REQUIRED = ("title", "date", "source", "theme", "summary", "links")
OPTIONAL = ("see_also", "image", "guid", "embargo_until")
FIELDS = REQUIRED + OPTIONAL


@dataclass(frozen=True)
class Link:
    label: str  # "Read the report"
    title: str  # "Improving multi-agency information sharing"
    url: str


@dataclass(frozen=True)
class SeeAlso:
    title: str
    url: str


@dataclass(frozen=True)
class Image:
    src: str
    alt: str


@dataclass(frozen=True)
class Item:
    title: str
    date: dt.date
    source: str
    theme: str  # as written in the file; `issue.group_items` maps it to a configured theme
    summary: str  # Markdown
    links: tuple[Link, ...]
    see_also: tuple[SeeAlso, ...] = ()
    image: Image | None = None
    guid: str | None = None  # the feed entry id, kept by `collect` for dedupe
    embargo_until: dt.datetime | None = None  # not to be sent before (aware; `check` errors while it is ahead)
    path: str = ""
    line: int = 0
    # the line of each value, by field path ("theme", "links[1].url", "image.alt"), so an
    # error or a `check` finding points at the value to edit rather than the item's first line
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # the texts given per language ({en: ..., cy: ...}), by field path ("title", "summary",
    # "links[1].label"); the plain fields hold the first language's text until `in_language`
    texts: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def in_language(self, tag: str) -> Item:
        """This item as a reader of `tag` reads it: each per-language text in `tag` where
        given (else the field's first language: `check` reports the gap when a reader has it)."""
        if not self.texts:
            return self

        def pick(name: str, current: str) -> str:
            texts = self.texts.get(name)
            found = pick_text(texts, tag) if texts is not None else None
            return current if found is None else found

        links = tuple(Link(pick(f"links[{i}].label", link.label), pick(f"links[{i}].title", link.title), link.url)
                      for i, link in enumerate(self.links, 1))
        return replace(self, title=pick("title", self.title), summary=pick("summary", self.summary), links=links)

    def missing_languages(self, tags: set[str]) -> list[tuple[str, str]]:
        """(field, language) for each per-language field without a text in one of `tags`
        (a `cy` text serves a `cy-GB` reader, as the config's texts do)."""
        return [(name, tag) for name, texts in self.texts.items() for tag in sorted(tags)
                if pick_text(texts, tag) is None]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def line_of(self, name: str) -> int:
        """The line of one field's value; the item's first line if it was not written."""
        return self.lines.get(name, self.line)

    def where_of(self, name: str) -> str:
        """`FILE:LINE` of one field's value, e.g. `where_of("links[2].url")`."""
        return f"{self.path}:{self.line_of(name)}"


def check_url(url: str) -> str | None:
    """Why `url` is unacceptable in an item, or None if it is fine."""
    if any(c.isspace() for c in url):
        return "contains spaces"
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return None if "@" in parts.path else "mailto: without an address"
    if parts.scheme not in ("http", "https"):
        return "must start with https://, http:// or mailto:"
    host = parts.hostname or ""
    if "." not in host and host != "localhost":
        return "has no host name"
    return None


class _ItemReader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[NewsletterError] = []
        self.texts: dict[str, dict[str, str]] = {}  # the current item's per-language texts

    def words(self, data: LineMap, key: str, context: str = "") -> str:
        """A text readers read (title, summary, link label and title): one string, or one per
        language (`{en: ..., cy: ...}`), kept in `self.texts`; the first language's is returned."""
        value = data.get(key)
        if not isinstance(value, LineMap):
            return self.text(data, key, context)
        texts: dict[str, str] = {}
        for tag in value:
            problem = language_problem(str(tag))
            if problem:
                self.errors.append(ItemError(problem, path=self.path, line=value.line_of(tag),
                                             field=f"{context}{key}.{tag}", hint="use a language tag such as en or cy"))
                continue
            texts[str(tag)] = self.text(value, tag, f"{context}{key}.")
        if not value:
            self.error(data, key, "is empty", "write a text, or one per language ({en: ..., cy: ...})")
        self.texts[f"{context}{key}"] = texts
        return next(iter(texts.values()), "")

    def error(self, where: LineMap, key: str | None, message: str, hint: str | None = None) -> None:
        line = where.line_of(key) if key else where.line
        self.errors.append(ItemError(message, path=self.path, line=line, field=key, hint=hint))

    def text(self, data: LineMap, key: str, context: str = "") -> str:
        value = data.get(key)
        field = f"{context}{key}"
        if value is None or (isinstance(value, str) and not value.strip()):
            if key in data:
                self.errors.append(ItemError("is empty", path=self.path, line=data.line_of(key),
                                             field=field, hint="write a value or remove the item"))
            else:
                self.errors.append(ItemError("missing", path=self.path, line=data.line,
                                             field=field, hint=f"add `{key}:`"))
            return ""
        if isinstance(value, (LineMap, list)):
            self.error(data, key, "must be text, not a list or mapping")
            return ""
        return str(value).strip()

    def url(self, data: LineMap, key: str, context: str) -> str:
        url = self.text(data, key, context)
        problem = check_url(url) if url else None
        if problem:
            self.errors.append(ItemError(f"bad URL {url!r}: {problem}", path=self.path,
                                         line=data.line_of(key), field=f"{context}{key}",
                                         hint="copy the full address from the browser"))
        return url

    def unknown_keys(self, data: LineMap, allowed: tuple[str, ...], context: str = "") -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
                self.errors.append(ItemError("unknown field", path=self.path, line=data.line_of(key),
                                             field=f"{context}{key}", hint=hint))

    def date(self, data: LineMap) -> dt.date | None:
        raw = self.text(data, "date")
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.error(data, "date", f"not a real date: {raw!r}", "write it as YYYY-MM-DD, e.g. 2023-07-03")
            return None

    def moment(self, data: LineMap, key: str) -> dt.datetime | None:
        """`2023-07-20` (the start of that day) or `2023-07-20 09:00[+01:00]`; a time without a
        zone is this machine's local time."""
        raw = self.text(data, key) if key in data else ""
        if not raw:
            return None
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            self.error(data, key, f"not a date or a date and time: {raw!r}",
                       "write it as YYYY-MM-DD or YYYY-MM-DD HH:MM, e.g. 2023-07-20 09:00")
            return None
        return moment if moment.tzinfo else moment.astimezone()

    def entries(self, data: LineMap, key: str) -> list[LineMap]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, LineMap):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, LineMap) for v in value):
            self.error(data, key, "must be a list of mappings", f"see docs/reference/items.md for the `{key}` format")
            return []
        return value

    def item(self, data: LineMap) -> Item | None:
        before = len(self.errors)
        self.texts = {}
        self.unknown_keys(data, FIELDS)
        title = self.words(data, "title")
        date = self.date(data)
        source = self.text(data, "source")
        theme = data.get("theme")
        theme = str(theme).strip() if theme is not None else ""
        if "theme" not in data:
            self.error(data, None, "missing", "add `theme:` with one of the configured themes")
            self.errors[-1].field = "theme"
        summary = self.words(data, "summary")
        if len(summary) > MAX_SUMMARY:
            self.error(data, "summary", f"is {len(summary):,} characters long; the limit is {MAX_SUMMARY:,}",
                       "shorten it to a paragraph or two and link to the full text")
        links = []
        link_entries = self.entries(data, "links")
        if "links" in data and not link_entries and isinstance(data["links"], (list, type(None))):
            self.error(data, "links", "is empty", "add at least one {label, title, url}")
        for i, entry in enumerate(link_entries, 1):
            self.unknown_keys(entry, ("label", "title", "url"), f"links[{i}].")
            links.append(Link(self.words(entry, "label", f"links[{i}]."),
                              self.words(entry, "title", f"links[{i}]."),
                              self.url(entry, "url", f"links[{i}].")))
        if "links" not in data:
            self.error(data, None, "missing", "add `links:` with at least one {label, title, url}")
            self.errors[-1].field = "links"
        see_also = []
        for i, entry in enumerate(self.entries(data, "see_also"), 1):
            self.unknown_keys(entry, ("title", "url"), f"see_also[{i}].")
            see_also.append(SeeAlso(self.text(entry, "title", f"see_also[{i}]."),
                                    self.url(entry, "url", f"see_also[{i}].")))
        image = None
        if "image" in data:
            raw = data["image"]
            if not isinstance(raw, LineMap):
                self.error(data, "image", "must be a mapping with src and alt")
            else:
                self.unknown_keys(raw, ("src", "alt"), "image.")
                image = Image(self.url(raw, "src", "image."), self.text(raw, "alt", "image."))
        guid = data.get("guid")
        embargo_until = self.moment(data, "embargo_until")
        if len(self.errors) > before or date is None:
            return None
        return Item(title=title, date=date, source=source, theme=theme, summary=summary,
                    links=tuple(links), see_also=tuple(see_also), image=image,
                    guid=str(guid) if guid else None, embargo_until=embargo_until,
                    path=self.path, line=data.line,
                    lines=field_lines(data), texts=self.texts)


def field_lines(data: LineMap) -> dict[str, int]:
    """The line of every field of an item, nested ones as `links[1].url` and `image.src`."""
    lines = dict(data.key_lines)
    for key in ("links", "see_also", "image"):
        value = data.get(key)
        entries = [value] if isinstance(value, LineMap) else value if isinstance(value, list) else []
        for i, entry in enumerate(entries, 1):
            if isinstance(entry, LineMap):
                prefix = f"{key}." if key == "image" else f"{key}[{i}]."
                lines.update({prefix + name: line for name, line in entry.key_lines.items()})
    return lines


def parse_items(data: Any, path: str) -> tuple[list[Item], list[NewsletterError]]:
    """Items from one parsed YAML document, and every error found in it."""
    reader = _ItemReader(path)
    if data is None:
        return [], []
    entries = data if isinstance(data, list) else [data]
    items = []
    for entry in entries:
        if not isinstance(entry, LineMap):
            reader.errors.append(ItemError("not an item", path=path, line=getattr(data, "line", 1),
                                           hint="each item is a mapping with title, date, ..."))
            continue
        item = reader.item(entry)
        if item:
            items.append(item)
    return items, reader.errors


def _display_path(path: Path, root: Path | None) -> str:
    if root:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def load_items(folder: Path, *, root: Path | None = None) -> list[Item]:
    """Every item under `folder` (*.yaml, *.yml); raise all errors at once, duplicates included."""
    if not folder.is_dir():
        raise ItemError("items folder not found", path=folder, hint="create it and add item files")
    items: list[Item] = []
    errors: list[NewsletterError] = []
    for path in sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]):
        shown = _display_path(path, root)
        try:
            data = load_yaml(path)
        except NewsletterError as exc:
            exc.path = shown
            errors.append(exc)
            continue
        found, problems = parse_items(data, shown)
        items.extend(found)
        errors.extend(problems)
    errors.extend(duplicate_errors(items))
    raise_all(errors)
    return items


def duplicate_errors(items: list[Item]) -> list[NewsletterError]:
    """Same title and date, or the same link, in two items."""
    errors: list[NewsletterError] = []
    by_title: dict[tuple[str, dt.date], Item] = {}
    by_url: dict[str, Item] = {}
    for item in items:
        key = (item.title.casefold(), item.date)
        if key in by_title:
            first = by_title[key]
            errors.append(ItemError(f"duplicate of the item at {first.where} (same title and date)",
                                    path=item.path, line=item.line_of("title"), field="title",
                                    hint="delete one of them"))
            continue
        by_title[key] = item
        for i, link in enumerate(item.links, 1):
            url = link.url.rstrip("/")
            if url in by_url and by_url[url] is not item:
                first = by_url[url]
                errors.append(ItemError(f"duplicate link {link.url} (also in the item at {first.where})",
                                        path=item.path, line=item.line_of(f"links[{i}].url"), field="links",
                                        hint="an item should appear once; merge or delete one"))
                break
            by_url[url] = item
    return errors
