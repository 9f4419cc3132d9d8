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

from newsletter.archive.atom import render_atom, render_search_index, render_sitemap, render_sitemap_index
from newsletter.archive.issues import Archive, ArchivedIssue, archive_in_language, load_archive
from newsletter.archive.pages import ArchivePages, Versions, issue_view, own_name, theme_counts, theme_groups
from newsletter.config import Config, format_period, translations
from newsletter.errors import BuildError
from newsletter.files import atomic_write

__all__ = [
    "RECORD",
    "SEARCH_INDEX",
    "ArchiveResult",
    "SiteReport",
    "build_archive",
    "render_chooser",
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
    """Every file of the site, by path relative to the site's root; no I/O.

    One language: the site at the top. Several: one site per language in its own folder
    (`cy/`, `en/`), each page linking to its other versions, and at the top a page to choose
    the language; each issue's page and the feed in the config's `language`, where emails
    link (`<archive_url>/<slug>/`, with its anchors) and feed readers already look; and a
    sitemap index."""
    base = _base(base_url)
    languages = config.offered_languages
    if len(languages) == 1:
        return _language_site(archive, ArchivePages(config, archive, base), base)
    files: dict[str, bytes] = {}
    main = ArchivePages(config, archive, None)
    for tag in languages:
        own = config.in_language(tag)
        shown = archive_in_language(archive, own, config)
        pages = ArchivePages(own, shown, f"{base}{tag}/" if base else None, Versions(languages, tag, base))
        files.update({f"{tag}/{name}": data for name, data in
                      _language_site(shown, pages, pages.base, feed_path=f"/{tag}").items()})
        if tag == config.language:
            main = pages
            files.update(_top_issue_pages(shown, pages, tag))
            files["feed.xml"] = files[f"{tag}/feed.xml"]  # a feed subscribed to before keeps coming
    files["index.html"] = render_chooser(archive, config, languages, main)
    if base:
        files["sitemap.xml"] = render_sitemap_index(base, languages, archive)
    return files


def _language_site(archive: Archive, pages: ArchivePages, base: str | None, *, feed_path: str = "") -> dict[str, bytes]:
    """The site in one language, by path relative to its folder."""
    language = pages.config.language
    issues = archive.issues
    files: dict[str, bytes] = {}
    files["index.html"] = pages.render(
        "index.html", "", page="index.html", x_default=True, issues=[issue_view(i, "", language) for i in issues],
        theme_counts=theme_counts(archive, ""))
    for n, issue in enumerate(issues):
        files[f"{issue.slug}/index.html"] = _issue_page(pages, issues, n, "../", base)
    for theme, slug in archive.themes:
        groups = theme_groups(archive, theme, "../../", language)
        files[f"themes/{slug}/index.html"] = pages.render(
            "theme.html", "../../", page=f"themes/{slug}/index.html", theme=theme, groups=groups,
            item_count=sum(len(g["entries"]) for g in groups))
    files["site.css"] = pages.render("site.css", "")
    files["search.js"] = pages.env.get_template("archive/search.js").render().encode("utf-8")
    files[SEARCH_INDEX] = render_search_index(archive, language)
    files["feed.xml"] = render_atom(archive, pages.config, base, pages, path=feed_path)
    if base:
        files["sitemap.xml"] = render_sitemap(archive, base)
    return files


def _issue_page(pages: ArchivePages, issues: tuple[ArchivedIssue, ...], n: int, root: str, base: str | None,
                top: str | None = None) -> bytes:
    language = pages.config.language
    issue = issues[n]
    newer = issue_view(issues[n - 1], root, language) if n > 0 else None
    older = issue_view(issues[n + 1], root, language) if n + 1 < len(issues) else None
    return pages.render("issue.html", root, page=f"{issue.slug}/index.html", top=top, x_default=True,
                        issue=issue_view(issue, root, language), newer=newer, older=older,
                        web_url=f"{base}{issue.slug}/" if base else None)


def _top_issue_pages(archive: Archive, pages: ArchivePages, tag: str) -> dict[str, bytes]:
    """Each issue's page at the top too (`2023-07/index.html`), in the config's language,
    its links into that language's folder and its canonical URL there: where the emails'
    "view it in your browser" link and the excerpt's item links point."""
    return {f"{issue.slug}/index.html": _issue_page(pages, archive.issues, n, f"../{tag}/", pages.base, top="../")
            for n, issue in enumerate(archive.issues)}


def render_chooser(archive: Archive, config: Config, languages: tuple[str, ...], pages: ArchivePages) -> bytes:
    """The top page of a site in several languages: each language's archive, newest issue and
    feed, each in its own words."""
    newest = archive.issues[0]
    choices = []
    for tag in languages:
        words = translations(tag, config.locale_dir)
        choices.append({"tag": tag, "name": own_name(tag), "url": f"{tag}/index.html", "feed": f"{tag}/feed.xml",
                        "all_issues": words.gettext("All issues"), "feed_label": words.gettext("Atom feed"),
                        "newest": format_period(newest.range, tag), "newest_url": f"{tag}/{newest.slug}/index.html"})
    return pages.render("languages.html", f"{config.language}/", page="index.html", top="", x_default=True,
                        choices=choices)


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
