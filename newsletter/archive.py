"""The archive stage: every built issue under `issues/` -> a static web site.

What an issue contained is read from its `manifest.json` (the record of what was sent);
each item's full content (summary, links, image) comes from the item files through the
normal loader, matched by title and date (or by file and date, so a corrected title still
matches). An item whose file is gone keeps its archive entry with what the manifest
recorded (title, source, date, theme) and a warning, so an issue never silently shrinks;
an issue folder whose manifest is missing or unreadable is skipped with a warning. Items
added to a range after its issue was built do not appear: the archive shows the issue as
sent.

The site is rendered in memory (`render_site`), then written incrementally (`write_site`):
a file is replaced only when its bytes differ, and files a previous run wrote that are no
longer part of the site are removed. Nothing depends on the clock: dates come from the
issues, so the same inputs give the same bytes. Links between pages are relative and
name `folder/index.html` explicitly, so the site works from any path and from disk.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .config import Config, theme_key
from .errors import BuildError
from .issue import DateRange
from .items import Item, load_items
from .render import template_environment
from .summary import summary_html, summary_text

__all__ = [
    "ArchivedItem",
    "ArchivedSection",
    "ArchivedIssue",
    "Archive",
    "SiteReport",
    "ArchiveResult",
    "load_archive",
    "render_site",
    "write_site",
    "build_archive",
    "SEARCH_INDEX",
    "RECORD",
]

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
SEARCH_INDEX = "search-index.js"
RECORD = ".newsletter-archive.json"  # the files the last run wrote, so stale ones can go
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


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


@dataclass(frozen=True)
class SiteReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class ArchiveResult:
    archive: Archive
    report: SiteReport
    notes: tuple[str, ...]


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
    items = load_items(config.items_dir, root=config.root)
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


# ---------------------------------------------------------------- rendering


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _span(date_range: DateRange) -> str:
    """`1–31 July 2023`, `15 June – 14 July 2023`, `3 July 2023` for one day."""
    start, end = date_range.start, date_range.end
    if start == end:
        return _day(end)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {end:%B %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%B} – {_day(end)}"
    return f"{_day(start)} – {_day(end)}"


_HEADING = re.compile(r"<(/?)h[1-6]>")


def _summary_html(markdown: str) -> Markup:
    """A summary's HTML with any Markdown headings as <h4>, below the item's <h3>."""
    return Markup(_HEADING.sub(r"<\1h4>", summary_html(markdown)))


def _stamp(day: dt.date) -> str:
    """An issue's timestamp: 08:00 UTC on its last day, as in sample.eml's Date header."""
    return f"{day.isoformat()}T08:00:00Z"


def _base(base_url: str | None) -> str | None:
    return base_url.rstrip("/") + "/" if base_url else None


def _entry_view(entry: ArchivedItem, issue: ArchivedIssue, section: ArchivedSection, root: str) -> dict[str, Any]:
    item = entry.item
    return {
        "title": entry.title,
        "date": _day(entry.date),
        "iso_date": entry.date.isoformat(),
        "source": entry.source,
        "anchor": entry.anchor,
        "item": item,
        "summary_html": _summary_html(item.summary) if item else None,
        "issue_url": f"{root}{issue.slug}/index.html#{entry.anchor}",
        "issue_label": issue.range.label,
        "theme": section.theme,
        "theme_url": f"{root}themes/{section.slug}/index.html",
    }


def _issue_view(issue: ArchivedIssue, root: str) -> dict[str, Any]:
    return {
        "slug": issue.slug,
        "label": issue.range.label,
        "span": _span(issue.range),
        "subject": issue.subject,
        "preheader": issue.preheader,
        "url": f"{root}{issue.slug}/index.html",
        "item_count": len(issue.items),
        "iso_end": issue.range.end.isoformat(),
        "sections": [
            {
                "theme": s.theme,
                "anchor": s.anchor,
                "count": len(s.items),
                "url": f"{root}themes/{s.slug}/index.html",
                "entries": [_entry_view(e, issue, s, root) for e in s.items],
            }
            for s in issue.sections
        ],
    }


class _Pages:
    """Renders the archive's templates with the context every page shares."""

    def __init__(self, config: Config, archive: Archive, base: str | None) -> None:
        self.env = template_environment(config)
        self.config = config
        self.archive = archive
        self.base = base

    def render(self, name: str, root: str, **context: Any) -> bytes:
        shared = {
            "name": self.config.name,
            "lang": self.config.language,
            "colors": self.config.colors,
            "intro": self.config.intro,
            "root": root,
            "base_url": self.base,
            "themes": [{"theme": t, "url": f"{root}themes/{slug}/index.html"} for t, slug in self.archive.themes],
        }
        try:
            text = self.env.get_template(f"archive/{name}").render({**shared, **context})
        except jinja2.TemplateSyntaxError as exc:
            raise BuildError(f"template syntax error: {exc.message}", path=exc.filename or exc.name,
                             line=exc.lineno, hint="fix the template tag on that line") from exc
        except jinja2.TemplateNotFound as exc:
            raise BuildError(f"template not found: {exc.name}",
                             hint="check the archive/ folder of your templates") from exc
        except jinja2.UndefinedError as exc:
            raise BuildError(f"template error in archive/{name}: {exc.message}",
                             hint="check the variable names used in the template") from exc
        return _tidy(text).encode("utf-8")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line) + "\n"


def render_site(archive: Archive, config: Config, *, base_url: str | None = None) -> dict[str, bytes]:
    """Every file of the site, by path relative to the site's root; no I/O."""
    base = _base(base_url)
    pages = _Pages(config, archive, base)
    issues = archive.issues
    files: dict[str, bytes] = {}
    files["index.html"] = pages.render(
        "index.html", "", issues=[_issue_view(i, "") for i in issues],
        theme_counts=_theme_counts(archive, ""))
    for n, issue in enumerate(issues):
        newer = _issue_view(issues[n - 1], "../") if n > 0 else None
        older = _issue_view(issues[n + 1], "../") if n + 1 < len(issues) else None
        files[f"{issue.slug}/index.html"] = pages.render(
            "issue.html", "../", issue=_issue_view(issue, "../"), newer=newer, older=older,
            web_url=f"{base}{issue.slug}/" if base else None)
    for theme, slug in archive.themes:
        groups = _theme_groups(archive, theme, "../../")
        files[f"themes/{slug}/index.html"] = pages.render(
            "theme.html", "../../", theme=theme, groups=groups,
            item_count=sum(len(g["entries"]) for g in groups))
    files["site.css"] = pages.render("site.css", "")
    files["search.js"] = pages.env.get_template("archive/search.js").render().encode("utf-8")
    files[SEARCH_INDEX] = _search_index(archive)
    files["feed.xml"] = _feed(archive, config, base, pages)
    if base:
        files["sitemap.xml"] = _sitemap(archive, base)
    return files


def _theme_counts(archive: Archive, root: str) -> list[dict[str, Any]]:
    counts = {t: 0 for t, _ in archive.themes}
    for issue in archive.issues:
        for section in issue.sections:
            counts[section.theme] += len(section.items)
    return [{"theme": t, "count": counts[t], "url": f"{root}themes/{slug}/index.html"} for t, slug in archive.themes]


def _theme_groups(archive: Archive, theme: str, root: str) -> list[dict[str, Any]]:
    groups = []
    for issue in archive.issues:
        for section in issue.sections:
            if section.theme == theme and section.items:
                groups.append({
                    "label": issue.range.label,
                    "url": f"{root}{issue.slug}/index.html#{section.anchor}",
                    "entries": [_entry_view(e, issue, section, root) for e in section.items],
                })
    return groups


def _search_index(archive: Archive) -> bytes:
    """The search data as a script (a JSON array), so search works from file:// too."""
    records = []
    for issue in archive.issues:
        for section in issue.sections:
            for entry in section.items:
                summary = summary_text(entry.item.summary) if entry.item else ""
                records.append({
                    "title": entry.title,
                    "summary": " ".join(summary.split()),
                    "theme": section.theme,
                    "issue": issue.range.label,
                    "date": _day(entry.date),
                    "url": f"{issue.slug}/index.html#{entry.anchor}",
                })
    lines = ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
    lines = lines.replace("</", "<\\/")  # could never close a <script>, even if inlined
    return f"window.NEWSLETTER_SEARCH_INDEX = [\n{lines}\n];\n".encode("utf-8")


def _xml(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _tag_uri(config: Config, year: int, path: str = "") -> str:
    """A tag: URI (RFC 4151), the Atom id when no base URL says where the site lives."""
    specific = re.sub(r"[^A-Za-z0-9._~!$&'()*+,;=:@/?-]", "-", config.list_id + path)
    return f"tag:{config.sender_domain},{year}:{specific}"


def _feed(archive: Archive, config: Config, base: str | None, pages: _Pages) -> bytes:
    """Atom: one entry per issue; ids are the pages' URLs, or tag: URIs without a base URL."""
    issues = archive.issues
    oldest = min(i.range.start.year for i in issues)
    feed = ET.Element("feed", {"xmlns": ATOM, _XML_LANG: config.language})
    _sub(feed, "id", f"{base}" if base else _tag_uri(config, oldest))
    _sub(feed, "title", config.name)
    _sub(feed, "updated", _stamp(issues[0].range.end))
    author = _sub(feed, "author")
    _sub(author, "name", parseaddr(config.sender)[0] or config.name)
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base}" if base else "index.html")
    if base:
        _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}feed.xml")
    _sub(feed, "generator", "newsletter")
    for issue in issues:
        url = f"{base}{issue.slug}/" if base else f"{issue.slug}/index.html"
        entry = _sub(feed, "entry")
        _sub(entry, "id", url if base else _tag_uri(config, oldest, f"/{issue.slug}"))
        _sub(entry, "title", issue.subject)
        _sub(entry, "updated", _stamp(issue.range.end))
        _sub(entry, "published", _stamp(issue.range.end))
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        for section in issue.sections:
            _sub(entry, "category", term=section.theme)
        if issue.preheader:
            _sub(entry, "summary", issue.preheader)
        content = pages.render("entry.html", base or "", issue=_issue_view(issue, base or ""))
        _sub(entry, "content", content.decode("utf-8"), type="html")
    return _xml(feed)


def _sitemap(archive: Archive, base: str) -> bytes:
    urlset = ET.Element("urlset", {"xmlns": SITEMAP})
    newest = archive.issues[0].range.end.isoformat()

    def add(path: str, lastmod: str) -> None:
        url = _sub(urlset, "url")
        _sub(url, "loc", base + path)
        _sub(url, "lastmod", lastmod)

    add("", newest)
    for issue in archive.issues:
        add(f"{issue.slug}/", issue.range.end.isoformat())
    for theme, slug in archive.themes:
        last = max(i.range.end for i in archive.issues for s in i.sections if s.theme == theme)
        add(f"themes/{slug}/", last.isoformat())
    return _xml(urlset)


# ---------------------------------------------------------------- writing


def write_site(out: Path, files: dict[str, bytes]) -> SiteReport:
    """Write only files whose bytes changed; remove files an earlier run wrote and this one did not."""
    written, unchanged = [], []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if _write_if_changed(out / name, files[name]):
                written.append(name)
            else:
                unchanged.append(name)
        removed = _remove_stale(out, _previous(out) - set(files))
        _write_if_changed(out / RECORD, (json.dumps(sorted(files), indent=0) + "\n").encode("utf-8"))
    except OSError as exc:
        raise BuildError(f"cannot write the archive: {exc.strerror}", path=exc.filename or out,
                         hint="check the --out folder is writable") from exc
    return SiteReport(tuple(written), tuple(unchanged), tuple(removed))


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _previous(out: Path) -> set[str]:
    try:
        names = json.loads((out / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _remove_stale(out: Path, names: Iterable[str]) -> list[str]:
    removed = []
    root = out.resolve()
    for name in sorted(names):
        path = (out / name).resolve()
        if root not in path.parents or not path.is_file():
            continue  # never touch anything outside the site folder
        path.unlink()
        removed.append(name)
        parent = path.parent
        while parent != root and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return removed


def build_archive(config: Config, out: Path, *, base_url: str | None = None) -> ArchiveResult:
    """Read the issues, render the site, write what changed."""
    given = base_url
    base_url = base_url or config.archive_url
    if base_url and not base_url.startswith(("https://", "http://")):
        raise BuildError(f"not a web address: {base_url!r}", path=None if given else config.path,
                         field="--base-url" if given else "archive_url",
                         hint="use the full address, e.g. https://example.org/digest/")
    archive = load_archive(config)
    files = render_site(archive, config, base_url=base_url)
    report = write_site(out, files)
    notes = []
    if not base_url:
        notes.append("no archive_url in the config (or --base-url): sitemap.xml skipped, and the "
                     "feed uses tag: ids and relative links; set archive_url to where the site is published")
    return ArchiveResult(archive, report, tuple(notes))
