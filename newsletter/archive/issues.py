"""What the web archive shows: every built issue under `issues/` -> an `Archive`.

What an issue contained is read from its `manifest.json` (the record of what was sent);
each item's full content (summary, links, image) comes from the item files through the
normal loader, matched by title and date (or by file and date, so a corrected title still
matches). An item whose file is gone keeps its archive entry with what the manifest
recorded (title, source, date, theme) and a warning, so an issue never silently shrinks;
an issue folder whose manifest is missing or unreadable is skipped with a warning. Items
added to a range after its issue was built do not appear: the archive shows the issue as
sent.

Theme folders and item anchors are decided here, once, so every page, the feed and the
search index link to the same places.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from newsletter.config import Config, format_number, format_period, theme_key, translations
from newsletter.daterange import DateRange
from newsletter.errors import BuildError
from newsletter.issue import Item, load_items

__all__ = [
    "Archive",
    "ArchivedIssue",
    "ArchivedItem",
    "ArchivedSection",
    "archive_in_language",
    "load_archive",
]


@dataclass(frozen=True)
class ArchivedItem:
    title: str
    date: dt.date
    source: str
    theme: str
    anchor: str  # the item's id on its issue page
    item: Item | None  # None when only the manifest's record of it survives


@dataclass(frozen=True)
class ArchivedSection:
    theme: str
    slug: str  # the theme page's folder under themes/
    anchor: str  # the section's id on the issue page
    items: tuple[ArchivedItem, ...]


@dataclass(frozen=True)
class ArchivedIssue:
    range: DateRange
    subject: str
    preheader: str
    sections: tuple[ArchivedSection, ...]

    @property
    def slug(self) -> str:
        return self.range.slug

    @property
    def items(self) -> list[ArchivedItem]:
        return [item for section in self.sections for item in section.items]


@dataclass(frozen=True)
class Archive:
    issues: tuple[ArchivedIssue, ...]  # newest first
    themes: tuple[tuple[str, str], ...]  # (theme, slug) in display order
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------- reading issues


def load_archive(config: Config) -> Archive:
    """Every built issue, newest first, with item content from the item files.

    Item files that fail to load are an error (as for `build`): publishing an archive
    stripped of every summary because of one typo would be worse than stopping.
    """
    warnings: list[str] = []
    manifests = _read_manifests(config, warnings)
    if not manifests:
        raise BuildError("no built issues to archive", path=config.issues_dir,
                         hint="build one first, e.g. `newsletter build 2023-07`")
    # in the config's language, as the build wrote the manifest (titles match) and its anchors
    items = [item.in_language(config.language) for item in load_items(config.items_dir, root=config.root)]
    by_title = {(i.title.casefold(), i.date): i for i in items}
    by_file: dict[tuple[str, dt.date], list[Item]] = {}
    for item in items:
        by_file.setdefault((item.path, item.date), []).append(item)
    slugs = _theme_slugs(config, manifests)
    issues = [_issue(where, data, slugs, by_title, by_file, warnings) for where, data in manifests]
    issues.sort(key=lambda i: (i.range.end, i.range.start), reverse=True)
    used = {s.theme for issue in issues for s in issue.sections}
    themes = tuple((t, slugs[t]) for t in slugs if t in used)
    return Archive(tuple(issues), themes, tuple(warnings))


def _read_manifests(config: Config, warnings: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(shown path, manifest) of each issue folder; broken or duplicate ones are skipped."""
    found: list[tuple[str, dict[str, Any]]] = []
    seen: dict[tuple[str, str], str] = {}
    if not config.issues_dir.is_dir():
        return found
    for folder in sorted(config.issues_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        path = folder / "manifest.json"
        shown = _shown(path, config.root)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            key = (str(data["range"]["start"]), str(data["range"]["end"]))
            DateRange(dt.date.fromisoformat(key[0]), dt.date.fromisoformat(key[1]))
            if not isinstance(data.get("themes"), list):
                raise ValueError("no themes")
        except FileNotFoundError:
            warnings.append(f"{_shown(folder, config.root)}: no manifest.json, not a built issue: skipped")
            continue
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.append(f"{shown}: unreadable ({exc}): issue skipped (rebuild it to include it)")
            continue
        if key in seen:
            warnings.append(f"{shown}: same range as {seen[key]}: skipped")
            continue
        seen[key] = shown
        found.append((shown, data))
    return found


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _slugify(text: str, fallback: str) -> str:
    """`Online safety` -> `online-safety`; long ones are cut at a word, near 60 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    if len(slug) > 60:
        slug = slug[:61].rsplit("-", 1)[0] if "-" in slug[:61] else slug[:60]
    return slug or fallback


def _theme_slugs(config: Config, manifests: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """Theme -> folder name, configured themes first in their order, then retired ones."""
    names = {theme: None for theme in config.themes}
    retired = sorted({str(s.get("theme", "")) for _, m in manifests for s in m["themes"]
                      if isinstance(s, dict)} - set(names) - {""}, key=theme_key)
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for theme in [*names, *retired]:
        slug = base = _slugify(theme, "theme")
        n = 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        slugs[theme] = slug
    return slugs


def _issue(where: str, data: dict[str, Any], slugs: dict[str, str],
           by_title: dict[tuple[str, dt.date], Item], by_file: dict[tuple[str, dt.date], list[Item]],
           warnings: list[str]) -> ArchivedIssue:
    start, end = (dt.date.fromisoformat(data["range"][k]) for k in ("start", "end"))
    date_range = DateRange(start, end)
    anchors: set[str] = set()
    sections = []
    for raw in data["themes"]:
        if not isinstance(raw, dict) or not raw.get("theme"):
            continue
        theme = str(raw["theme"])
        entries = []
        for entry in raw.get("items") or []:
            found = _entry(entry, theme, by_title, by_file, anchors)
            if found is None:
                warnings.append(f"{where}: an item without title or date: left out")
                continue
            if found.item is None:
                warnings.append(f"{where}: {found.title!r} is no longer in items/ "
                                f"({entry.get('file') or 'file unknown'}): its page shows the title, "
                                "source and date only")
            entries.append(found)
        sections.append(ArchivedSection(theme, slugs[theme], "theme-" + slugs[theme], tuple(entries)))
    return ArchivedIssue(date_range, str(data.get("subject") or date_range.label),
                         str(data.get("preheader") or ""), tuple(sections))


def _entry(entry: Any, theme: str, by_title: dict[tuple[str, dt.date], Item],
           by_file: dict[tuple[str, dt.date], list[Item]], anchors: set[str]) -> ArchivedItem | None:
    if not isinstance(entry, dict) or not entry.get("title") or not entry.get("date"):
        return None
    try:
        day = dt.date.fromisoformat(str(entry["date"]))
    except ValueError:
        return None
    title = str(entry["title"])
    item = by_title.get((title.casefold(), day))
    if item is None:
        same_file = by_file.get((str(entry.get("file", "")), day), [])
        item = same_file[0] if len(same_file) == 1 else None
    anchor = base = "item-" + _slugify(title, "x")
    n = 2
    while anchor in anchors:
        anchor, n = f"{base}-{n}", n + 1
    anchors.add(anchor)
    if item is not None:
        return ArchivedItem(item.title, item.date, item.source, theme, anchor, item)
    return ArchivedItem(title, day, str(entry.get("source") or ""), theme, anchor, None)


# ---------------------------------------------------------------- other languages


def archive_in_language(archive: Archive, config: Config, main: Config) -> Archive:
    """The archive as readers of `config.language` read it (`config` is `main.in_language`):
    each item's texts in that language, and each issue's subject and preheader made as the
    build makes them. The manifest's own subject and preheader are the main language's, kept
    as sent. Anchors stay the main language's, so the versions of a page share them."""
    if config.language == main.language:
        return archive
    issues = tuple(_issue_in_language(issue, config) for issue in archive.issues)
    return replace(archive, issues=issues)


def _issue_in_language(issue: ArchivedIssue, config: Config) -> ArchivedIssue:
    tag = config.language
    sections = tuple(replace(s, items=tuple(_item_in_language(e, tag) for e in s.items)) for s in issue.sections)
    issue = replace(issue, sections=sections)
    period = format_period(issue.range, tag)
    themes = [s.theme for s in sections]
    subject = " ".join(config.subject.format(name=config.name, period=period, month=period,
                                             count=len(issue.items), themes=", ".join(themes)).split())
    return replace(issue, subject=subject, preheader=_preheader(issue, config))


def _item_in_language(entry: ArchivedItem, tag: str) -> ArchivedItem:
    if entry.item is None:
        return entry
    item = entry.item.in_language(tag)
    return replace(entry, title=item.title, item=item)


def _preheader(issue: ArchivedIssue, config: Config) -> str:
    """The inbox line in `config.language`, worded as the build's (issue/render.py)."""
    if config.preheader:
        return " ".join(config.preheader.split())
    tag = config.language
    words = translations(tag, config.locale_dir)
    count = len(issue.items)
    parts = [f"{s.theme} ({format_number(len(s.items), tag)})" for s in issue.sections]
    text = words.ngettext("%(count)s new item in this issue: %(themes)s", "%(count)s new items in this issue: %(themes)s",
                          count) % {"count": format_number(count, tag), "themes": ", ".join(parts)}
    if len(text) < 60 and issue.items:
        text += f". {issue.items[0].title}"
    return text
