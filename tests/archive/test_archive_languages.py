"""The web archive of a bilingual newsletter (`languages: [cy, en]`, issue 31): each issue
once per language, an index and an Atom feed per language in its own words and dates, the
language versions of a page linked with hreflang and a switch; one language keeps the
layout it had."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from support.bilingualkit import bilingual_project
from support.project import copy_sample

from newsletter.archive.site import RECORD, build_archive
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

BASE = "https://digest.example.org/archive/"
MONTHS = ("2023-06", "2023-07", "2023-08")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM = "{http://www.w3.org/2005/Atom}"
WELSH_TITLE = "Rhwystrau i rannu gwybodaeth rhwng asiantaethau"
ENGLISH_TITLE = "Barriers to sharing information between agencies"


def _archived(root: Path, extra: str = "") -> tuple[Config, Path]:
    config = bilingual_project(root, extra=extra)
    for month in MONTHS:
        build_issue(config, parse_range(month, None, None))
    build_archive(config, root / "site")
    return config, root / "site"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bilingual sample, three months built, archived with archive_url set."""
    return _archived(tmp_path_factory.mktemp("bilingual") / "digest", f"archive_url: {BASE}\n")[1]


@pytest.fixture(scope="module")
def local_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same without archive_url: every link relative, as opened from disk."""
    return _archived(tmp_path_factory.mktemp("bilingual-local") / "digest")[1]


class _Page(HTMLParser):
    """The page's lang, its hreflang alternates, its language switch and every link."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.alternates: dict[str, str] = {}
        self.canonical: str | None = None
        self.switch: list[tuple[str, str | None]] = []  # (name, href; None for the current one)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self._in_switch = False
        self._current = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang")
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "link" and a.get("rel") == "alternate" and a.get("hreflang") and not a.get("type"):
            self.alternates[a["hreflang"]] = a["href"]
        if tag == "link" and a.get("rel") == "canonical":
            self.canonical = a["href"]
        if tag == "nav" and "languages" in a.get("class", "").split():
            self._in_switch = True
        if self._in_switch and tag == "a":
            self.switch.append(("", a["href"]))
        if self._in_switch and tag == "span" and a.get("aria-current") == "page":
            self.switch.append(("", None))
        if tag != "link" or a.get("rel") == "stylesheet":
            self.links += [a[key] for key in ("href", "src") if a.get(key)]

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_switch = False

    def handle_data(self, data: str) -> None:
        if self._in_switch and data.strip() and self.switch and not self.switch[-1][0]:
            self.switch[-1] = (data.strip(), self.switch[-1][1])


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_each_issue_index_feed_and_theme_page_is_published_once_per_language(site: Path) -> None:
    for tag in ("cy", "en"):
        for name in ("index.html", "feed.xml", "sitemap.xml", "search-index.js", "search.js", "site.css",
                     *(f"{m}/index.html" for m in MONTHS), "themes/information-sharing/index.html"):
            assert (site / tag / name).is_file(), f"{tag}/{name}"
    top = {p.relative_to(site).as_posix() for p in site.iterdir()}
    # at the top: the language choice, the config language's issue pages and feed (where emails
    # and feed readers already point), the sitemap index; nothing else
    assert top == {"cy", "en", "index.html", "feed.xml", "sitemap.xml", RECORD, *MONTHS}
    assert not (site / "themes").exists() and not (site / "search-index.js").exists()


def test_each_language_version_is_in_its_own_words_and_dates(site: Path) -> None:
    cy = (site / "cy/2023-07/index.html").read_text(encoding="utf-8")
    en = (site / "en/2023-07/index.html").read_text(encoding="utf-8")
    assert _page(site / "cy/2023-07/index.html").lang == "cy"
    assert _page(site / "en/2023-07/index.html").lang == "en"
    assert "Gorffennaf 2023" in cy and "1–31 Gorffennaf 2023" in cy and "Yn y rhifyn hwn" in cy
    assert WELSH_TITLE in cy and "Darllenwch yr adroddiad ymchwil" in cy and ENGLISH_TITLE not in cy
    assert "July 2023" in en and "In this issue" in en and ENGLISH_TITLE in en
    assert "Gorffennaf" not in en and WELSH_TITLE not in en
    index = (site / "cy/index.html").read_text(encoding="utf-8")
    assert all(month in index for month in ("Mehefin 2023", "Gorffennaf 2023", "Awst 2023"))
    assert "Pob rhifyn" in index and "July 2023" not in index
    assert "Gorffennaf 2023" in (site / "cy/themes/information-sharing/index.html").read_text(encoding="utf-8")


def test_each_language_has_a_valid_atom_feed_with_its_xml_lang_and_words(site: Path) -> None:
    titles = {}
    for tag in ("cy", "en"):
        data = (site / tag / "feed.xml").read_bytes()
        feed = feedparser.parse(data)
        assert not feed.bozo, feed.get("bozo_exception")
        assert feed.version == "atom10"
        root = ET.fromstring(data)
        assert root.get(XML_LANG) == tag
        assert root.findtext(f"{ATOM}id") == f"{BASE}{tag}/"
        assert [e.id for e in feed.entries] == [f"{BASE}{tag}/{m}/" for m in reversed(MONTHS)]
        assert [e.link for e in feed.entries] == [f"{BASE}{tag}/{m}/" for m in reversed(MONTHS)]
        titles[tag] = [e.title for e in feed.entries]
    assert titles["cy"][1] == "Safeguarding digest: beth sy'n newydd yn Gorffennaf 2023"
    assert titles["en"][1] == "Safeguarding digest: what's new in July 2023"
    cy = feedparser.parse((site / "cy/feed.xml").read_bytes())
    july = cy.entries[1]
    assert july.summary.startswith("12 eitem newydd yn y rhifyn hwn")
    assert WELSH_TITLE in july.content[0].value and "Gorffennaf 2023" in july.content[0].value
    # the feed at the top is the config language's, so a reader subscribed before keeps theirs
    assert (site / "feed.xml").read_bytes() == (site / "en/feed.xml").read_bytes()


def test_without_a_base_url_the_language_feeds_have_their_own_tag_ids(local_site: Path) -> None:
    ids = {}
    for tag in ("cy", "en"):
        feed = feedparser.parse((local_site / tag / "feed.xml").read_bytes())
        assert not feed.bozo
        ids[tag] = {feed.feed.id, *(e.id for e in feed.entries)}
        assert all(i.startswith("tag:") for i in ids[tag])
    assert not ids["cy"] & ids["en"]


def test_each_page_links_its_language_versions_with_hreflang(site: Path) -> None:
    issue = _page(site / "cy/2023-07/index.html")
    assert issue.alternates == {"cy": f"{BASE}cy/2023-07/", "en": f"{BASE}en/2023-07/",
                                "x-default": f"{BASE}2023-07/"}
    assert _page(site / "en/2023-07/index.html").alternates == issue.alternates
    theme = _page(site / "en/themes/neglect/index.html")
    assert theme.alternates == {"cy": f"{BASE}cy/themes/neglect/", "en": f"{BASE}en/themes/neglect/"}
    assert _page(site / "cy/index.html").alternates == {"cy": f"{BASE}cy/", "en": f"{BASE}en/", "x-default": BASE}
    assert _page(site / "index.html").alternates == {"cy": f"{BASE}cy/", "en": f"{BASE}en/", "x-default": BASE}


def test_the_language_switch_leads_to_the_same_page_in_the_other_language(local_site: Path) -> None:
    page = _page(local_site / "cy/2023-07/index.html")
    assert page.switch == [("Cymraeg", None), ("English", "../../en/2023-07/index.html")]
    assert (local_site / "cy/2023-07" / page.switch[1][1]).resolve() == (local_site / "en/2023-07/index.html").resolve()
    assert _page(local_site / "en/themes/neglect/index.html").switch == [
        ("Cymraeg", "../../../cy/themes/neglect/index.html"), ("English", None)]
    assert 'aria-label="Iaith"' in (local_site / "cy/index.html").read_text(encoding="utf-8")


def test_every_link_between_pages_resolves_from_disk(local_site: Path) -> None:
    pages = sorted(local_site.rglob("*.html"))
    assert len(pages) > 20
    for path in pages:
        page = _page(path)
        for link in [*page.links, *page.alternates.values()]:
            parts = urlsplit(link)
            if parts.scheme:
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            assert target.is_file(), f"{path.relative_to(local_site)}: {link}"
            if parts.fragment and target.suffix == ".html":
                assert parts.fragment in _page(target).ids, f"{path.relative_to(local_site)}: {link}"


def test_the_top_page_offers_each_language_in_its_own_words(local_site: Path) -> None:
    text = (local_site / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<li lang="cy">\s*<h2><a href="cy/index.html" hreflang="cy">Cymraeg</a>', text)
    assert re.search(r'<li lang="en">\s*<h2><a href="en/index.html" hreflang="en">English</a>', text)
    assert "Pob rhifyn" in text and "Awst 2023" in text and "Ffrwd Atom" in text
    assert "All issues" in text and "August 2023" in text


def test_the_issue_page_emails_link_to_stays_at_the_top_with_its_anchors(site: Path) -> None:
    """Emails link to `<archive_url>/<slug>/` (and the excerpt to its items' anchors): that page
    is the config language's, its links into that language's folder, canonical there."""
    top = _page(site / "2023-07/index.html")
    english = _page(site / "en/2023-07/index.html")
    assert top.lang == "en" and top.canonical == f"{BASE}en/2023-07/"
    assert top.ids == english.ids and any(i.startswith("item-barriers-to-sharing") for i in top.ids)
    assert "../en/site.css" in top.links and "../en/index.html" in top.links


def test_the_sitemap_at_the_top_names_each_languages_sitemap(site: Path) -> None:
    index = ET.fromstring((site / "sitemap.xml").read_bytes())
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    assert index.tag == f"{ns}sitemapindex"
    assert [e.findtext(f"{ns}loc") for e in index] == [f"{BASE}cy/sitemap.xml", f"{BASE}en/sitemap.xml"]
    cy = ET.fromstring((site / "cy/sitemap.xml").read_bytes())
    assert f"{BASE}cy/2023-07/" in [e.findtext(f"{ns}loc") for e in cy]


def test_each_languages_search_finds_its_own_texts(site: Path) -> None:
    cy = (site / "cy/search-index.js").read_text(encoding="utf-8")
    en = (site / "en/search-index.js").read_text(encoding="utf-8")
    assert WELSH_TITLE in cy and "Mae ymarferwyr yn petruso" in cy and '"issue":"Gorffennaf 2023"' in cy
    assert ENGLISH_TITLE in en and '"issue":"July 2023"' in en and WELSH_TITLE not in en
    index = (site / "cy/index.html").read_text(encoding="utf-8")
    assert 'src="search-index.js"' in index and "Chwilio" in index


def test_one_language_keeps_the_layout_at_the_top(tmp_path: Path) -> None:
    """`languages: [en]` beside `language: en-GB` is one language: no folders, no switch."""
    root = copy_sample(tmp_path / "digest")
    path = root / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "languages: [en]\n", encoding="utf-8")
    config = load_config(path)
    build_issue(config, parse_range("2023-07", None, None))
    build_archive(config, root / "site")
    site = root / "site"
    assert {p.name for p in site.iterdir()} == {"index.html", "2023-07", "themes", "feed.xml", "site.css",
                                                "search.js", "search-index.js", RECORD}
    page = _page(site / "2023-07/index.html")
    assert page.lang == "en-GB" and page.alternates == {} and page.switch == []
    assert 'class="languages"' not in (site / "index.html").read_text(encoding="utf-8")
    assert ".languages" not in (site / "site.css").read_text(encoding="utf-8")


def test_dropping_a_language_removes_its_pages(tmp_path: Path) -> None:
    config, site = _archived(tmp_path / "digest")
    path = config.path
    path.write_text(path.read_text(encoding="utf-8").replace("languages: [cy, en]\n", ""), encoding="utf-8")
    result = build_archive(load_config(path), site)
    assert "cy/2023-07/index.html" in result.report.removed
    assert not (site / "cy").exists() and not (site / "en").exists()
    assert (site / "2023-07/index.html").is_file() and (site / "themes").is_dir()


def test_each_languages_email_links_to_its_own_page_of_the_archive(tmp_path: Path) -> None:
    """A Welsh reader's "View it in your browser" and Archived-At lead to the Welsh page, an
    English reader's to the English one; both pages are published, with the email's anchors."""
    from newsletter.issue import Recipient, Variants, compile_message, fill

    config, site = _archived(tmp_path / "digest", f"archive_url: {BASE}\n")
    result = build_issue(config, parse_range("2023-07", None, None), write=False)
    for tag in ("cy", "en"):
        version = Variants(result.rendered, config).for_language(tag)
        rendered, own = version.rendered(None), version.config
        message = fill(compile_message(rendered, own), own, Recipient("a@example.org", "A"), token="t",
                       message_id="<m@example.org>")
        page = f"{BASE}{tag}/2023-07/"
        assert f'href="{page}"'.encode() in message.replace(b"=\r\n", b"").replace(b"=3D", b"=")
        assert f"Archived-At: <{page}>".encode() in message
        published = _page(site / tag / "2023-07" / "index.html")
        assert published.lang == tag and "View it in your browser" not in str(published.links)
        anchors = set(re.findall(r'href="[^"]*#([^"]+)"', rendered.html))
        assert anchors <= published.ids | {a for a in anchors if not a.startswith("item-")}
