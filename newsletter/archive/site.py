"""The archive stage: every built issue under `issues/` -> a static web site.

Reading the issues is `issues.py`, the HTML pages `pages.py`, the feed,
sitemap and search index `atom.py`; this module decides which files make up the
site and writes them. The site is rendered in memory (`render_site`), then written
incrementally (`write_site`): a file is replaced only when its bytes differ, and files a
previous run wrote that are no longer part of the site are removed. Nothing depends on
the clock: dates come from the issues, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from newsletter.archive.atom import render_atom, render_search_index, render_sitemap
from newsletter.archive.issues import Archive, load_archive
from newsletter.archive.pages import ArchivePages, issue_view, theme_counts, theme_groups
from newsletter.config import Config
from newsletter.errors import BuildError
from newsletter.files import atomic_write

__all__ = [
    "RECORD",
    "SEARCH_INDEX",
    "ArchiveResult",
    "SiteReport",
    "build_archive",
    "render_site",
    "write_site",
]

SEARCH_INDEX = "search-index.js"
RECORD = ".newsletter-archive.json"  # the files the last run wrote, so stale ones can go


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


def _base(base_url: str | None) -> str | None:
    """The base URL with exactly one trailing slash, so `base + path` is always a URL."""
    return base_url.rstrip("/") + "/" if base_url else None


def render_site(archive: Archive, config: Config, *, base_url: str | None = None) -> dict[str, bytes]:
    """Every file of the site, by path relative to the site's root; no I/O."""
    base = _base(base_url)
    pages = ArchivePages(config, archive, base)
    language = config.language
    issues = archive.issues
    files: dict[str, bytes] = {}
    files["index.html"] = pages.render(
        "index.html", "", issues=[issue_view(i, "", language) for i in issues],
        theme_counts=theme_counts(archive, ""))
    for n, issue in enumerate(issues):
        newer = issue_view(issues[n - 1], "../", language) if n > 0 else None
        older = issue_view(issues[n + 1], "../", language) if n + 1 < len(issues) else None
        files[f"{issue.slug}/index.html"] = pages.render(
            "issue.html", "../", issue=issue_view(issue, "../", language), newer=newer, older=older,
            web_url=f"{base}{issue.slug}/" if base else None)
    for theme, slug in archive.themes:
        groups = theme_groups(archive, theme, "../../", language)
        files[f"themes/{slug}/index.html"] = pages.render(
            "theme.html", "../../", theme=theme, groups=groups,
            item_count=sum(len(g["entries"]) for g in groups))
    files["site.css"] = pages.render("site.css", "")
    files["search.js"] = pages.env.get_template("archive/search.js").render().encode("utf-8")
    files[SEARCH_INDEX] = render_search_index(archive, language)
    files["feed.xml"] = render_atom(archive, config, base, pages)
    if base:
        files["sitemap.xml"] = render_sitemap(archive, base)
    return files


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
    atomic_write(path, data, mode=0o644)  # a web server serves it to anyone
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
