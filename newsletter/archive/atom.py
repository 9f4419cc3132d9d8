"""The web archive's machine-readable files: the Atom feed, the sitemap, the search index.

None of them depends on the clock: an issue's timestamp is 08:00 UTC on its last day,
so the same issues give the same bytes and an unchanged archive rewrites nothing. With a
base URL the feed's ids and links are absolute and a sitemap is made; without one the
feed uses tag: ids and relative links (a sitemap needs absolute URLs, so there is none).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from email.utils import parseaddr

from newsletter.archive.issues import Archive
from newsletter.archive.pages import ArchivePages, day_label, issue_view
from newsletter.config import Config, format_period
from newsletter.issue import summary_text

__all__ = [
    "render_atom",
    "render_search_index",
    "render_sitemap",
    "render_sitemap_index",
]

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"  # also a sitemap index's namespace
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _stamp(day: dt.date) -> str:
    """An issue's timestamp: 08:00 UTC on its last day, as in sample.eml's Date header."""
    return f"{day.isoformat()}T08:00:00Z"


def render_search_index(archive: Archive, language: str = "en") -> bytes:
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
                    "issue": format_period(issue.range, language),
                    "date": day_label(entry.date, language),
                    "url": f"{issue.slug}/index.html#{entry.anchor}",
                })
    lines = ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
    lines = lines.replace("</", "<\\/")  # could never close a <script>, even if inlined
    return f"window.NEWSLETTER_SEARCH_INDEX = [\n{lines}\n];\n".encode()


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


def render_atom(archive: Archive, config: Config, base: str | None, pages: ArchivePages, *, path: str = "") -> bytes:
    """Atom: one entry per issue; ids are the pages' URLs, or tag: URIs without a base URL
    (`path`, e.g. `/cy`, keeps one language's ids apart from another's)."""
    issues = archive.issues
    oldest = min(i.range.start.year for i in issues)
    feed = ET.Element("feed", {"xmlns": ATOM, _XML_LANG: config.language})
    _sub(feed, "id", f"{base}" if base else _tag_uri(config, oldest, path))
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
        _sub(entry, "id", url if base else _tag_uri(config, oldest, f"{path}/{issue.slug}"))
        _sub(entry, "title", issue.subject)
        _sub(entry, "updated", _stamp(issue.range.end))
        _sub(entry, "published", _stamp(issue.range.end))
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        for section in issue.sections:
            _sub(entry, "category", term=section.theme)
        if issue.preheader:
            _sub(entry, "summary", issue.preheader)
        content = pages.render("entry.html", base or "", issue=issue_view(issue, base or "", config.language))
        _sub(entry, "content", content.decode("utf-8"), type="html")
    return _xml(feed)


def render_sitemap(archive: Archive, base: str) -> bytes:
    """The index, each issue and each theme page, with the date its content last changed
    (its newest issue's last day), so a crawler revisits only what changed."""
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


def render_sitemap_index(base: str, languages: tuple[str, ...], archive: Archive) -> bytes:
    """A site in several languages: the top sitemap names each language folder's own."""
    index = ET.Element("sitemapindex", {"xmlns": SITEMAP})
    newest = archive.issues[0].range.end.isoformat()
    for tag in languages:
        sitemap = _sub(index, "sitemap")
        _sub(sitemap, "loc", f"{base}{tag}/sitemap.xml")
        _sub(sitemap, "lastmod", newest)
    return _xml(index)
