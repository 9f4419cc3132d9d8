"""The web archive: `newsletter archive` over issues built from the sample project.

The read-only checks share one archived copy of the sample project per module (built the
same way as conftest's `project`); tests that change files use their own `project`.
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from click.testing import CliRunner
from support.project import copy_sample

from newsletter.archive.issues import load_archive
from newsletter.archive.site import RECORD, build_archive
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

REPO = Path(__file__).resolve().parents[2]
BASE = "https://digest.example.org/archive"
MONTHS = ("2023-06", "2023-07", "2023-08")
LIVESTREAM = "items/2023-08-01-children-livestreaming.yaml"


def _set_archive_url(root: Path, url: str = BASE) -> Config:
    path = root / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"archive_url: {url}\n", encoding="utf-8")
    return load_config(path)


def _build_months(config: Config) -> None:
    for month in MONTHS:
        build_issue(config, parse_range(month, None, None))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project with archive_url set, three months built and archived into site/."""
    root = copy_sample(tmp_path_factory.mktemp("archive") / "digest")
    config = _set_archive_url(root)
    _build_months(config)
    build_archive(config, root / "site")
    return root / "site"


@pytest.fixture
def built(project: Path) -> Config:
    """The `project` with July-August built, no archive_url."""
    config = load_config(project / "newsletter.yaml")
    _build_months(config)
    return config


def _html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


class _Page(HTMLParser):
    """What the checks need from a page: links, ids, headings, lang, title, images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.headings: list[int] = []
        self.lang: str | None = None
        self.title = ""
        self.images: list[dict[str, str | None]] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key] or "")
        if tag == "html":
            self.lang = a.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "img":
            self.images.append(a)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _internal(links: list[str]) -> Iterator[str]:
    for link in links:
        if not urlsplit(link).scheme:
            yield link


# ---------------------------------------------------------------- the email side


def test_emails_link_to_their_archive_page_when_archive_url_is_set(project: Path) -> None:
    config = _set_archive_url(project)
    result = build_issue(config, parse_range("2023-07", None, None))
    page = f"{BASE}/2023-07/"

    message = email.message_from_bytes(result.files["sample.eml"], policy=email.policy.default)
    assert message["List-Archive"] == f"<{BASE}/>"
    assert message["Archived-At"] == f"<{page}>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"View it in your browser: {page}" in text
    assert f'<a href="{page}"' in html and "View it in your browser</a>" in html
    assert f"View it in your browser: {page}" in (result.folder / "email.txt").read_text(encoding="utf-8")
    assert f'href="{page}"' in (result.folder / "email.html").read_text(encoding="utf-8")

    build_archive(config, project / "site")
    assert (project / "site" / urlsplit(page).path.removeprefix("/archive/") / "index.html").is_file()


def test_emails_have_no_archive_link_or_headers_without_archive_url(config: Config) -> None:
    result = build_issue(config, parse_range("2023-07", None, None), write=False)
    message = email.message_from_bytes(result.files["sample.eml"], policy=email.policy.default)
    assert message["List-Archive"] is None and message["Archived-At"] is None
    assert "View it in your browser" not in result.files["email.txt"].decode()
    assert "View it in your browser" not in result.files["email.html"].decode()


@pytest.mark.parametrize("url", ["digest.example.org/archive", '"https://x.example.org/a\\nBcc: victim@example.org"'])
def test_a_bad_archive_url_is_a_config_error_not_a_header(project: Path, url: str) -> None:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f"archive_url: {url}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(path)])
    assert result.exit_code == 1
    line = len(path.read_text(encoding="utf-8").splitlines())
    assert result.stderr.startswith(f"error: {path}:{line}: archive_url: not a web address")
    assert not (project / "issues" / "2023-07").exists()


# ---------------------------------------------------------------- the site


def test_the_site_has_every_page(site: Path) -> None:
    files = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert files == {
        "index.html", "2023-06/index.html", "2023-07/index.html", "2023-08/index.html",
        *(f"themes/{t}/index.html" for t in ("domestic-abuse", "child-sexual-exploitation", "online-safety",
                                              "neglect", "youth-violence", "information-sharing")),
        "site.css", "search.js", "search-index.js", "feed.xml", "sitemap.xml", RECORD,
    }


def test_the_feed_parses_and_lists_every_issue_newest_first(site: Path) -> None:
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Safeguarding digest"
    assert feed.feed.updated == "2023-08-31T08:00:00Z"  # from the newest issue, not the clock
    assert [e.id for e in feed.entries] == [f"{BASE}/{m}/" for m in reversed(MONTHS)]
    assert [e.link for e in feed.entries] == [f"{BASE}/{m}/" for m in reversed(MONTHS)]
    august = feed.entries[0]
    assert august.title == "Safeguarding digest: what's new in August 2023"
    assert august.updated == "2023-08-31T08:00:00Z"
    assert "How children use livestreaming platforms" in august.content[0].value
    assert f'href="{BASE}/2023-08/index.html#item-how-children-use-livestreaming-platforms"' in august.content[0].value
    assert {t.term for t in august.tags} == {"Domestic abuse", "Child sexual exploitation", "Online safety", "Neglect"}


def test_the_sitemap_lists_every_page_by_absolute_url(site: Path) -> None:
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text or "" for e in ET.parse(site / "sitemap.xml").getroot().iterfind("s:url/s:loc", ns)]
    pages = {str(p.relative_to(site)) for p in _html_files(site)}
    assert all(loc.startswith(BASE + "/") for loc in locs)
    assert {loc.removeprefix(BASE + "/") + "index.html" for loc in locs} == pages


def test_every_internal_link_resolves_to_a_written_file(site: Path) -> None:
    checked = 0
    for path in _html_files(site):
        page = _parse(path)
        for link in _internal(page.links):
            target_path, _, fragment = link.partition("#")
            target = (path.parent / unquote(target_path)).resolve() if target_path else path
            assert target.is_file(), f"{path.relative_to(site)}: {link} -> not a file"
            assert site.resolve() in target.parents, f"{path.relative_to(site)}: {link} leaves the site"
            if fragment and target.suffix == ".html":
                assert fragment in _parse(target).ids, f"{path.relative_to(site)}: {link}: no such id"
            checked += 1
    assert checked > 100


def test_pages_have_lang_title_headings_in_order_skip_link_and_alt_text(site: Path) -> None:
    for path in _html_files(site):
        page = _parse(path)
        where = path.relative_to(site)
        assert page.lang == "en-GB", where
        assert page.title.strip(), where
        assert page.headings[0] == 1 and page.headings.count(1) == 1, where
        for before, after in zip(page.headings, page.headings[1:], strict=False):
            assert after <= before + 1, f"{where}: h{before} then h{after}"
        assert "#main" in page.links and "main" in page.ids, where
        assert all(img.get("alt") for img in page.images), where


def test_the_index_lists_issues_newest_first_with_range_count_and_themes(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    positions = [html.index(f'href="{m}/index.html"') for m in reversed(MONTHS)]
    assert positions == sorted(positions)
    assert "1–31 July 2023" in html and "12 items" in html
    july = html[html.index('href="2023-07/index.html"'):html.index('href="2023-06/index.html"')]
    assert 'href="themes/youth-violence/index.html">Youth violence</a> (2)' in july


def test_an_issue_page_has_the_email_content_without_personal_data(site: Path) -> None:
    config = load_config(site.parent / "newsletter.yaml")
    issue = build_issue(config, parse_range("2023-08", None, None), write=False).rendered.issue
    html = (site / "2023-08" / "index.html").read_text(encoding="utf-8")
    for item in issue.items:
        assert f"<h3>{item.title}</h3>" in html
        assert all(f'href="{link.url}"' in html for link in item.links)
    assert "a way to\nstay connected with friends" in html  # the summary, in full
    assert 'href="../site.css"' in html and "<style" not in html  # the site's CSS, not the email's
    lowered = html.lower()
    for private in ("unsubscribe", "sam sample", "sam.sample@example.org", "hello", "@@nl:",
                    "manage your topics", "<script"):
        assert private not in lowered, private
    assert re.findall(r'<img [^>]*src="([^"]+)"', html) == [i.image.src for i in issue.items if i.image]


def test_a_theme_page_lists_its_items_across_issues(site: Path) -> None:
    html = (site / "themes" / "neglect" / "index.html").read_text(encoding="utf-8")
    assert "<title>Neglect &middot; Safeguarding digest</title>" in html
    assert "4 items in 3 issues" in html
    for month in ("August 2023", "July 2023", "June 2023"):
        assert f">{month}</a></h2>" in html
    assert "Working with families where neglect and poverty overlap" in html
    assert 'href="../../2023-06/index.html#item-consultation-on-national-guidance-for-responding-to-child"' in html


def test_the_search_index_has_every_item_with_its_summary_as_text(site: Path) -> None:
    import json

    raw = (site / "search-index.js").read_text(encoding="utf-8")
    records = json.loads(raw.removeprefix("window.NEWSLETTER_SEARCH_INDEX = ").removesuffix(";\n"))
    assert len(records) == 21
    live = next(r for r in records if r["title"] == "How children use livestreaming platforms")
    assert "virtual gifts from strangers" in live["summary"] and "<" not in live["summary"]
    assert (live["theme"], live["issue"]) == ("Online safety", "August 2023")
    path, _, anchor = live["url"].partition("#")
    assert anchor in _parse(site / path).ids


# ---------------------------------------------------------------- incremental and deterministic


def _snapshot(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_a_second_run_rewrites_nothing_and_output_is_deterministic(built: Config, tmp_path: Path) -> None:
    first = build_archive(built, tmp_path / "one")
    assert first.report.unchanged == ()
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "one").rglob("*")}
    again = build_archive(built, tmp_path / "one")
    assert again.report.written == () and again.report.removed == ()
    assert set(again.report.unchanged) == set(first.report.written)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "one").rglob("*")} == mtimes
    build_archive(built, tmp_path / "two")
    assert _snapshot(tmp_path / "one") == _snapshot(tmp_path / "two")


def test_changing_one_item_rewrites_only_the_pages_that_show_it(built: Config, project: Path) -> None:
    build_archive(built, project / "site")
    item = project / LIVESTREAM
    item.write_text(item.read_text(encoding="utf-8").replace("virtual gifts", "digital gifts"), encoding="utf-8")
    report = build_archive(built, project / "site").report
    assert set(report.written) == {"2023-08/index.html", "themes/online-safety/index.html",
                                   "search-index.js", "feed.xml"}
    assert "digital gifts" in (project / "site" / "2023-08" / "index.html").read_text(encoding="utf-8")


def test_a_deleted_issue_loses_its_page_and_other_files_stay(built: Config, project: Path) -> None:
    site = project / "site"
    build_archive(built, site)
    (site / "CNAME").write_text("digest.example.org\n")  # the officer's own file
    shutil.rmtree(project / "issues" / "2023-06")
    report = build_archive(built, site).report
    assert report.removed == ("2023-06/index.html",)
    assert not (site / "2023-06").exists() and (site / "CNAME").is_file()
    assert "2023-06/index.html" not in (site / "index.html").read_text(encoding="utf-8")
    assert "2023-07/index.html" in report.written  # its "older issue" link is gone


def test_a_custom_range_issue_gets_its_own_page_in_date_order(built: Config, project: Path) -> None:
    build_issue(built, parse_range(None, "2023-07-15", "2023-08-14"))
    build_archive(built, project / "site")
    index = (project / "site" / "index.html").read_text(encoding="utf-8")
    slugs = re.findall(r'<h3><a href="([^"/]+)/index.html">', index)
    assert slugs == ["2023-08", "2023-07-15_2023-08-14", "2023-07", "2023-06"]  # by last day, newest first
    assert "15 July \u2013 14 August 2023" in index
    page = (project / "site" / "2023-07-15_2023-08-14" / "index.html").read_text(encoding="utf-8")
    assert "<title>15 July \u2013 14 August 2023 &middot; Safeguarding digest</title>" in page  # the language's range


# ---------------------------------------------------------------- missing pieces and errors


def test_an_item_whose_file_is_gone_keeps_its_entry_from_the_manifest(built: Config, project: Path) -> None:
    (project / LIVESTREAM).unlink()
    result = CliRunner().invoke(main, ["archive", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 0, result.output
    assert "warning: issues/2023-08/manifest.json: 'How children use livestreaming platforms' is no longer " \
           "in items/" in result.stderr
    html = (project / "site" / "2023-08" / "index.html").read_text(encoding="utf-8")
    entry = html[html.index("<h3>How children use livestreaming platforms</h3>"):]
    entry = entry[:entry.index("</article>")]
    assert "Ofcom" in entry and "1 August 2023" in entry and "no longer available" in entry
    assert "Working with families where neglect and poverty overlap" in html  # the rest is whole


def test_an_unreadable_manifest_skips_that_issue_with_a_warning(built: Config, project: Path) -> None:
    (project / "issues" / "2023-07" / "manifest.json").write_text("{not json", encoding="utf-8")
    (project / "issues" / "notes").mkdir()
    archive = load_archive(built)
    assert [i.slug for i in archive.issues] == ["2023-08", "2023-06"]
    assert any(w.startswith("issues/2023-07/manifest.json: unreadable") for w in archive.warnings)
    assert any(w.startswith("issues/notes: no manifest.json") for w in archive.warnings)


def test_no_built_issues_is_a_one_line_error(project: Path) -> None:
    result = CliRunner().invoke(main, ["archive", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {project / 'issues'}: no built issues to archive "
        "(build one first, e.g. `newsletter build 2023-07`)"]
    assert not (project / "site").exists()


def test_a_bad_base_url_is_an_error(built: Config, project: Path) -> None:
    result = CliRunner().invoke(main, ["archive", "--config", str(project / "newsletter.yaml"),
                                       "--base-url", "digest.example.org"])
    assert result.exit_code == 1 and "not a web address" in result.stderr


# ---------------------------------------------------------------- CLI, feed without a URL, templates


def test_cli_writes_site_beside_the_config_and_reports_counts(built: Config, project: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    args = ["archive", "--config", str(project / "newsletter.yaml")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert (project / "site" / "index.html").is_file() and not (elsewhere / "site").exists()
    assert f"wrote      {project / 'site'}/2023-07/index.html" in first.stdout
    assert "Archived 3 issues (21 items, 6 themes)" in first.stdout and "14 written, 0 unchanged" in first.stdout
    assert "sitemap.xml skipped" in first.stdout
    second = CliRunner().invoke(main, args)
    assert "0 written, 14 unchanged, 0 removed" in second.stdout and "wrote" not in second.stdout


def test_without_a_base_url_the_feed_uses_tag_ids_and_relative_links(built: Config, project: Path) -> None:
    build_archive(built, project / "site")
    feed = feedparser.parse((project / "site" / "feed.xml").read_bytes(),
                            response_headers={"content-location": "https://example.net/digest/feed.xml",
                                              "content-type": "application/atom+xml"})
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.id == "tag:example.org,2023:safeguarding-digest.example.org"
    assert [e.id for e in feed.entries] == [f"{feed.feed.id}/{m}" for m in reversed(MONTHS)]
    assert [e.link for e in feed.entries] == [f"https://example.net/digest/{m}/index.html" for m in reversed(MONTHS)]
    assert not (project / "site" / "sitemap.xml").exists()


def test_the_officers_templates_override_the_bundled_ones(built: Config, project: Path) -> None:
    own = project / "templates" / "archive"
    own.mkdir(parents=True)
    (own / "site.css").write_text("body{font-family:Georgia,serif}\n", encoding="utf-8")
    bundled = (REPO / "newsletter" / "templates" / "archive" / "index.html").read_text(encoding="utf-8")
    (own / "index.html").write_text(bundled.replace("Every issue, newest first.", "Our back issues."),
                                    encoding="utf-8")
    build_archive(load_config(project / "newsletter.yaml"), project / "site")
    assert (project / "site" / "site.css").read_text() == "body{font-family:Georgia,serif}\n"
    assert "Our back issues." in (project / "site" / "index.html").read_text(encoding="utf-8")


def test_markup_in_item_text_is_escaped_everywhere(write_item, empty_project: Path) -> None:  # type: ignore[no-untyped-def]
    from support.project import item_yaml

    write_item(item_yaml(title="'\"Quoted\" <script>alert(1)</script> & more'",
                         summary="'Raw <b>html</b> and </script> stay text.'"))
    config = load_config(empty_project / "newsletter.yaml")
    build_issue(config, parse_range("2023-07", None, None))
    build_archive(config, empty_project / "site")
    site = empty_project / "site"
    for path in (site / "2023-07" / "index.html", site / "themes" / "neglect" / "index.html"):
        html = path.read_text(encoding="utf-8")
        assert "<script>alert" not in html and "<b>html" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    index = (site / "search-index.js").read_text(encoding="utf-8")
    assert "</script>" not in index and "<\\/script>" in index
    assert not feedparser.parse((site / "feed.xml").read_bytes()).bozo
