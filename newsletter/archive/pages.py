"""The web archive's HTML pages: templates under `archive/` rendered with view data.

Each page gets the context every page shares (name, colours, theme list, `root`) from
`ArchivePages`, and its own views of issues and items built here. Links between pages
are relative to `root` and name `folder/index.html` explicitly, so the site works from
any path and from disk. Rendering does no I/O beyond reading templates; a template
error is a `BuildError`, reported like the email templates' ones.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from newsletter.archive.issues import Archive, ArchivedIssue, ArchivedItem, ArchivedSection
from newsletter.config import Config, babel_locale, format_day, format_period, format_span, palette_for
from newsletter.errors import BuildError
from newsletter.issue import summary_html, template_environment

__all__ = [
    "ArchivePages",
    "Versions",
    "day_label",
    "own_name",
    "issue_view",
    "theme_counts",
    "theme_groups",
]


def day_label(day: dt.date, language: str = "en") -> str:
    """`3 July 2023` (`3 juillet 2023`): how the pages, the feed and the search index write a date."""
    return format_day(day, language)


_HEADING = re.compile(r"<(/?)h[1-6]>")


def _summary_html(markdown: str) -> Markup:
    """A summary's HTML with any Markdown headings as <h4>, below the item's <h3>."""
    return Markup(_HEADING.sub(r"<\1h4>", summary_html(markdown)))


def _entry_view(entry: ArchivedItem, issue: ArchivedIssue, section: ArchivedSection, root: str,
                language: str) -> dict[str, Any]:
    item = entry.item
    return {
        "title": entry.title,
        "date": day_label(entry.date, language),
        "iso_date": entry.date.isoformat(),
        "source": entry.source,
        "anchor": entry.anchor,
        "item": item,
        "summary_html": _summary_html(item.summary) if item else None,
        "issue_url": f"{root}{issue.slug}/index.html#{entry.anchor}",
        "issue_label": format_period(issue.range, language),
        "theme": section.theme,
        "theme_url": f"{root}themes/{section.slug}/index.html",
    }


def issue_view(issue: ArchivedIssue, root: str, language: str = "en") -> dict[str, Any]:
    """An issue as the templates see it, its links relative to `root` (the page's way up
    to the site's root, or the base URL for the feed's absolute links)."""
    return {
        "slug": issue.slug,
        "label": format_period(issue.range, language),
        "span": format_span(issue.range, language),
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
                "entries": [_entry_view(e, issue, s, root, language) for e in s.items],
            }
            for s in issue.sections
        ],
    }


def own_name(tag: str) -> str:
    """A language's name in that language, as a language switch writes it: `Cymraeg`, `English`."""
    locale = babel_locale(tag)
    name = locale.get_language_name(locale) or tag  # `English`, not `English (United Kingdom)`
    return name[:1].upper() + name[1:]


@dataclass(frozen=True)
class Versions:
    """The languages an archive is published in (one folder each), for the links between
    the language versions of a page: `<link rel="alternate" hreflang>` in its head (absolute
    with a base URL, as search engines want them) and the switch in its header (relative,
    so it works from disk too)."""

    tags: tuple[str, ...]
    current: str
    base: str | None  # the site's base URL, above the language folders

    def links(self, page: str, top: str, *, x_default: bool = False) -> dict[str, Any]:
        """`alternates` and `switch` for `page` (its path under a language folder, e.g.
        `2023-07/index.html`); `top` is the way up from the page to the site's top folder;
        `x_default`: the top folder has a page for readers of no listed language."""
        def absolute(path: str) -> str:
            return f"{self.base}{path.removesuffix('index.html')}" if self.base else top + path

        alternates = [{"hreflang": tag, "href": absolute(f"{tag}/{page}")} for tag in self.tags]
        if x_default:
            alternates.append({"hreflang": "x-default", "href": absolute(page)})
        switch = [{"tag": tag, "name": own_name(tag), "href": f"{top}{tag}/{page}", "current": tag == self.current}
                  for tag in self.tags]
        return {"alternates": alternates, "switch": switch}


class ArchivePages:
    """Renders the archive's templates with the context every page shares."""

    def __init__(self, config: Config, archive: Archive, base: str | None, versions: Versions | None = None) -> None:
        self.env = template_environment(config)
        self.config = config
        self.archive = archive
        self.base = base
        self.versions = versions

    def render(self, name: str, root: str, *, page: str | None = None, top: str | None = None,
               x_default: bool = False, **context: Any) -> bytes:
        """Template `archive/<name>`; `page` (the page's path under its language folder) and
        `top` add the links to its other language versions when there are some."""
        links: dict[str, Any] = {"alternates": [], "switch": []}
        if self.versions is not None and page is not None:
            links = self.versions.links(page, root + "../" if top is None else top, x_default=x_default)
        shared = {
            "name": self.config.name,
            "lang": self.config.language,
            "colors": self.config.colors,
            "palette": palette_for(self.config.colors),  # the email's: one brand in both
            "intro": self.config.intro,
            "root": root,
            "base_url": self.base,
            "themes": [{"theme": t, "url": f"{root}themes/{slug}/index.html"} for t, slug in self.archive.themes],
            "several_languages": self.versions is not None,  # the language switch's styles
            **links,
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


def theme_counts(archive: Archive, root: str) -> list[dict[str, Any]]:
    """Items per theme over every issue, for the index page's theme list."""
    counts = {t: 0 for t, _ in archive.themes}
    for issue in archive.issues:
        for section in issue.sections:
            counts[section.theme] += len(section.items)
    return [{"theme": t, "count": counts[t], "url": f"{root}themes/{slug}/index.html"} for t, slug in archive.themes]


def theme_groups(archive: Archive, theme: str, root: str, language: str = "en") -> list[dict[str, Any]]:
    """A theme page's content: that theme's items, grouped by issue, newest first."""
    groups = []
    for issue in archive.issues:
        for section in issue.sections:
            if section.theme == theme and section.items:
                groups.append({
                    "label": format_period(issue.range, language),
                    "url": f"{root}{issue.slug}/index.html#{section.anchor}",
                    "entries": [_entry_view(e, issue, section, root, language) for e in section.items],
                })
    return groups
