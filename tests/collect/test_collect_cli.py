"""`newsletter collect` end to end: feeds served by a local HTTP server and spreadsheets
into a copy of the sample project, then `newsletter build` on the result."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.feedserver import DATA, FeedServer

from newsletter.cli import main
from newsletter.issue import Item, load_items

JULY = "2023-07"


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(project / "newsletter.yaml")])


def configure(project: Path, text: str) -> None:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent(text), encoding="utf-8")


def snapshot(project: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((project / "items").glob("*.yaml"))}


def collected(project: Path, before: dict[str, str]) -> dict[str, str]:
    """The item files a run added, by name."""
    return {k: v for k, v in snapshot(project).items() if k not in before}


def by_title(project: Path) -> dict[str, Item]:
    return {i.title: i for i in load_items(project / "items", root=project)}


@pytest.fixture
def feeds(feed_server: FeedServer) -> FeedServer:
    """Three real-looking feeds with validators, so a second run can get 304s."""
    feed_server.serve_file("/nsp.xml", "rss2.xml", etag='"nsp-7"')
    feed_server.serve_file("/cfr.atom", "atom.xml", content_type="application/atom+xml",
                           last_modified="Fri, 28 Jul 2023 12:00:00 GMT")
    feed_server.serve_file("/ywt.xml", "rss-html.xml", etag='"ywt-3"', content_type="text/xml; charset=utf-8")
    return feed_server


def test_collect_july_then_build_then_nothing_new(project: Path, feeds: FeedServer) -> None:
    configure(project, f"""
        sources:
          - url: {feeds.url('/nsp.xml')}
            name: Northfield Safeguarding Partnership
            rules:
              Online safety: [tag:online safety, grooming]
          - url: {feeds.url('/cfr.atom')}
            name: Centre for Family Research
          - url: {feeds.url('/ywt.xml')}
            name: Youth Work Today
            theme: Youth violence
        theme_rules:
          Domestic abuse: [coercive control, tag:domestic abuse]
          Information sharing: [information sharing, sharing information]
          Neglect: [neglect*]
        """)
    before = snapshot(project)
    result = run(project, "collect", JULY)
    assert result.exit_code == 0, result.output
    assert len(collected(project, before)) == 6
    items = by_title(project)  # every file loads back cleanly
    themes = {i.title: i.theme for i in items.values() if Path(i.path).name not in before}
    assert themes == {
        "New guidance on online grooming for school staff": "Online safety",
        "Learning from a case review on chronic neglect": "Neglect",
        "Coercive control & children: a research briefing": "Domestic abuse",
        "Young people's views on sharing information with professionals": "Information sharing",
        "Detached youth work & knife crime: what works?": "Youth violence",
        "Café conversations: talking about consent": "Youth violence",
    }
    grooming = items["New guidance on online grooming for school staff"]
    assert grooming.source == "Northfield Safeguarding Partnership"
    assert grooming.links[0].label == "Read the guidance"
    assert grooming.links[0].url == "https://nsp.example.org/news/online-grooming-guidance"
    assert grooming.guid == "nsp-news-1041"
    assert "Needs a theme" not in result.output

    built = run(project, "build", JULY)
    assert built.exit_code == 0, built.output
    manifest = json.loads((project / "issues" / JULY / "manifest.json").read_text(encoding="utf-8"))
    titles = {i["title"] for theme in manifest["themes"] for i in theme["items"]}
    assert set(themes) <= titles
    html = (project / "issues" / JULY / "email.html").read_text(encoding="utf-8")
    assert "Read the guidance" in html and "https://nsp.example.org/news/online-grooming-guidance" in html

    files = snapshot(project)
    again = run(project, "collect", JULY)
    assert again.exit_code == 0, again.output
    assert snapshot(project) == files
    for path in ("/nsp.xml", "/cfr.atom", "/ywt.xml"):
        second = feeds.answered(path)[-1]
        assert second.status == 304, path
    assert feeds.answered("/nsp.xml")[-1].headers["if-none-match"] == '"nsp-7"'
    assert feeds.answered("/cfr.atom")[-1].headers["if-modified-since"] == "Fri, 28 Jul 2023 12:00:00 GMT"
    assert "unchanged (304)" in again.output and "Wrote 0 new item files" in again.output


def test_unthemed_entries_are_listed_and_build_names_them(project: Path, feeds: FeedServer) -> None:
    result = run(project, "collect", feeds.url("/nsp.xml"), JULY)
    assert result.exit_code == 0, result.output
    new = sorted(collected(project, {}).items())
    # the grooming entry's feed category is a configured theme's name: it is filed there (issue 21)
    grooming = "2023-07-18-new-guidance-on-online-grooming-for-school-staff.yaml"
    assert "theme: Online safety\n" in (project / "items" / grooming).read_text(encoding="utf-8")
    name = "2023-07-01-learning-from-a-case-review-on-chronic-neglect.yaml"
    text = (project / "items" / name).read_text(encoding="utf-8")
    assert 'theme: ""  # needs a theme: one of Domestic abuse, ' in text
    assert "Needs a theme (1)" in result.output and f"items/{name}:5" in result.output
    assert new  # and the feed's title is the source when the config names none
    assert "source: 'Northfield Safeguarding Partnership: news'" in text

    built = run(project, "build", JULY)
    assert built.exit_code == 1
    assert f"error: items/{name}:5: theme: no theme set (set one of: Domestic abuse" in built.output

    for path in (project / "items").glob("2023-07-*-*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace('theme: ""', "theme: Neglect"), encoding="utf-8")
    assert run(project, "build", JULY).exit_code == 0


def test_one_failing_source_does_not_stop_the_others(project: Path, feeds: FeedServer) -> None:
    feeds.serve_file("/slow.xml", "rss2.xml", delay=10)
    feeds.serve_file("/broken.xml", "malformed.xml")
    result = run(project, "collect", feeds.url("/missing.xml"), feeds.url("/slow.xml"),
                 feeds.url("/broken.xml"), feeds.url("/cfr.atom"), JULY, "--timeout", "0.5")
    assert result.exit_code == 0, result.output
    assert f"error: {feeds.url('/missing.xml')}: HTTP 404 Not Found" in result.stderr
    assert f"error: {feeds.url('/slow.xml')}: timed out after 0.5 s" in result.stderr
    assert f"error: {feeds.url('/broken.xml')}:4: not a readable feed: not well-formed" in result.stderr
    assert "Wrote 2 new item files" in result.stdout
    assert "failed: HTTP 404" in result.stdout


def test_exit_1_when_every_source_fails(project: Path, feeds: FeedServer) -> None:
    feeds.serve_file("/broken.xml", "malformed.xml")
    result = run(project, "collect", feeds.url("/missing.xml"), feeds.url("/broken.xml"), JULY)
    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr and "not a readable feed" in result.stderr


def test_no_sources_is_an_error(project: Path) -> None:
    result = run(project, "collect", JULY)
    assert result.exit_code == 1
    assert "newsletter.yaml: no sources to collect" in result.stderr


def test_only_web_and_file_sources(project: Path) -> None:
    result = run(project, "collect", "file:///etc/passwd", JULY)
    assert result.exit_code == 1
    assert "only http(s) URLs and local files can be collected" in result.stderr


def test_dedupe_survives_renaming_editing_and_deleting(project: Path, feeds: FeedServer) -> None:
    url = feeds.url("/nsp.xml")
    assert run(project, "collect", url, JULY).exit_code == 0
    items = project / "items"
    grooming = items / "2023-07-18-new-guidance-on-online-grooming-for-school-staff.yaml"
    neglect = items / "2023-07-01-learning-from-a-case-review-on-chronic-neglect.yaml"
    # The officer renames the file, rewrites the title and summary, sets a theme ...
    edited = grooming.read_text(encoding="utf-8")
    edited = edited.replace("New guidance on online grooming for school staff", "Spotting online grooming: guidance")
    edited = edited.replace('theme: ""', "theme: Online safety").replace("The partnership has", "The NSP has")
    grooming.unlink()
    (items / "online-grooming.yaml").write_text(edited, encoding="utf-8")
    # ... deletes the other item as not wanted ...
    neglect.unlink()
    # ... and the feed changes (new ETag), so it is downloaded again.
    feeds.routes["/nsp.xml"].etag = '"nsp-8"'
    before = snapshot(project)
    result = run(project, "collect", url, JULY)
    assert result.exit_code == 0, result.output
    assert feeds.answered("/nsp.xml")[-1].status == 200
    assert snapshot(project) == before
    assert "Wrote 0 new item files" in result.output
    with sqlite3.connect(project / "newsletter.db") as db:
        rows = db.execute("SELECT file FROM collected WHERE key LIKE 'guid:%'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(f"items/{p.name}" for p in (grooming, neglect))


def test_the_same_link_written_differently_is_a_duplicate(project: Path, feeds: FeedServer) -> None:
    (project / "items" / "by-hand.yaml").write_text(textwrap.dedent("""\
        title: Summer safety
        date: 2023-08-03
        source: NSP
        theme: Neglect
        summary: Written by hand before the feed had it.
        links:
          - label: Read the news
            title: Summer safety
            url: HTTP://NSP.EXAMPLE.ORG/news/summer-safety-campaign/?utm_source=newsletter#top
        """), encoding="utf-8")
    before = snapshot(project)
    result = run(project, "collect", feeds.url("/nsp.xml"), "2023-08")
    assert result.exit_code == 0, result.output
    assert collected(project, before) == {}


def test_a_304_still_finds_entries_of_another_month(project: Path, feeds: FeedServer) -> None:
    url = feeds.url("/nsp.xml")
    assert run(project, "collect", url, JULY).exit_code == 0
    before = snapshot(project)
    result = run(project, "collect", url, "--since", "2023-08-01", "--until", "2023-08-31")
    assert result.exit_code == 0, result.output
    assert feeds.answered("/nsp.xml")[-1].status == 304
    assert list(collected(project, before)) == ["2023-08-02-summer-holiday-safety-campaign-launches.yaml"]


def test_dry_run_writes_nothing(project: Path, feeds: FeedServer) -> None:
    before = snapshot(project)
    result = run(project, "collect", feeds.url("/nsp.xml"), feeds.url("/cfr.atom"), JULY, "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(project) == before
    assert not (project / "newsletter.db").exists()
    assert "would write  items/2023-07-18-new-guidance-on-online-grooming-for-school-staff.yaml" in result.output
    assert "Dry run: 4 new item files would be written; nothing was." in result.output
    # and the real run afterwards writes exactly those
    assert run(project, "collect", feeds.url("/nsp.xml"), feeds.url("/cfr.atom"), JULY).exit_code == 0
    assert len(collected(project, before)) == 4


def test_an_existing_file_is_never_overwritten(project: Path, feeds: FeedServer) -> None:
    taken = project / "items" / "2023-07-18-new-guidance-on-online-grooming-for-school-staff.yaml"
    taken.write_text("# the officer's draft, not an item yet\n", encoding="utf-8")
    result = run(project, "collect", feeds.url("/nsp.xml"), JULY)
    assert result.exit_code == 0, result.output
    assert taken.read_text(encoding="utf-8") == "# the officer's draft, not an item yet\n"
    second = taken.with_name(taken.stem + "-2.yaml")
    assert "title: New guidance on online grooming for school staff" in second.read_text(encoding="utf-8")


def test_feed_files_and_entries_without_a_web_link(project: Path, tmp_path: Path) -> None:
    feed = tmp_path / "local.xml"
    feed.write_text("""<rss version="2.0"><channel><title>Local</title>
      <item><title>On disk</title><link>file:///etc/passwd</link><description>x</description>
        <pubDate>Mon, 03 Jul 2023 09:00:00 GMT</pubDate></item>
      <item><title>On the web</title><link>https://local.example.org/a</link><description>A summary.</description>
        <pubDate>Mon, 03 Jul 2023 09:00:00 GMT</pubDate></item>
    </channel></rss>""", encoding="utf-8")
    result = run(project, "collect", str(feed), JULY)
    assert result.exit_code == 0, result.output
    assert f"error: {feed}: entry 1 'On disk' has no http(s) link; left out" in result.stderr
    assert (project / "items" / "2023-07-03-on-the-web.yaml").exists()
    assert not (project / "items" / "2023-07-03-on-disk.yaml").exists()


def test_bad_theme_names_in_the_config_are_reported_with_their_line(project: Path) -> None:
    configure(project, """
        sources:
          - url: https://example.org/feed.xml
            name: Example
            theme: Youth violance
        theme_rules:
          Online safty: [online]
          Neglect: [neglect]
        """)
    result = run(project, "collect", JULY)
    assert result.exit_code == 1
    lines = (project / "newsletter.yaml").read_text(encoding="utf-8").splitlines()
    theme_line = next(i for i, line in enumerate(lines, 1) if "Youth violance" in line)
    rule_line = next(i for i, line in enumerate(lines, 1) if "Online safty" in line)
    assert f"newsletter.yaml:{theme_line}: theme: unknown theme 'Youth violance'" in result.stderr
    assert f"newsletter.yaml:{rule_line}: Online safty: unknown theme 'Online safty'" in result.stderr


# --- spreadsheets ---------------------------------------------------------------------


EXCEL_ROWS = [
    ["title", "date", "Source", "theme", "summary", "link label", "link_url", "see_also_title",
     "see_also_url", "image_src", "image_alt"],
    ["Neglect in the early years", "2023-07-05", "Health visitors' network", "neglect",
     "A *short* guide; with a semicolon\nand a second line.", "Read the guide",
     "https://hvn.example.org/neglect-early-years", "Earlier guide", "https://hvn.example.org/older",
     "https://hvn.example.org/guide.jpg", "A health visitor with a parent and baby"],
    ["Café meeting on exploitation", "2023-07-21", "Town forum", "", "Notes from the forum's café meeting.",
     "", "https://forum.example.org/cafe-meeting", "", "", "", ""],
    ["Not this month", "2023-06-21", "Town forum", "", "Outside the range.", "",
     "https://forum.example.org/june", "", "", "", ""],
]


def _excel_csv(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ';"\n') else value

    return "\r\n".join(";".join(cell(v) for v in row) for row in rows).encode(encoding) + b"\r\n"


def test_an_excel_csv_becomes_item_files(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(project, """
        theme_rules:
          Child sexual exploitation: [exploitation]
        """)
    (project / "items.csv").write_bytes(_excel_csv(EXCEL_ROWS))
    monkeypatch.chdir(project)
    result = run(project, "collect", "items.csv", JULY)
    assert result.exit_code == 0, result.output
    items = by_title(project)
    guide = items["Neglect in the early years"]
    assert guide.theme == "Neglect"  # written in any case, stored as configured
    assert guide.summary == "A *short* guide; with a semicolon\nand a second line."
    assert guide.links[0].label == "Read the guide" and guide.links[0].title == "Neglect in the early years"
    assert guide.see_also[0].url == "https://hvn.example.org/older"
    assert guide.image and guide.image.alt == "A health visitor with a parent and baby"
    cafe = items["Café meeting on exploitation"]
    assert cafe.theme == "Child sexual exploitation" and cafe.links[0].label == "Read the article"
    assert "Not this month" not in items
    assert run(project, "build", JULY).exit_code == 0
    # the same spreadsheet again adds nothing
    before = snapshot(project)
    assert run(project, "collect", "items.csv", JULY).exit_code == 0
    assert snapshot(project) == before


def test_a_windows_code_page_csv(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [["title", "date", "source", "theme", "summary", "link_url"],
            ["Café workers and safeguarding", "2023-07-07", "Forum", "Neglect", "Costs £5.", "https://e.example.org/c"]]
    (project / "plain.csv").write_bytes("\r\n".join(",".join(r) for r in rows).encode("cp1252"))
    monkeypatch.chdir(project)
    assert run(project, "collect", "plain.csv", JULY).exit_code == 0
    assert by_title(project)["Café workers and safeguarding"].summary == "Costs £5."


def test_bad_rows_are_named_and_nothing_is_written(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [EXCEL_ROWS[0],
            EXCEL_ROWS[1],
            ["Bad date", "31/07/2023", "Forum", "", "S.", "", "https://e.example.org/1", "", "", "", ""],
            ["Bad link", "2023-07-09", "Forum", "", "S.", "", "www.example.org/2", "", "", "", ""],
            ["Bad theme", "2023-07-09", "Forum", "Online safty", "S.", "", "https://e.example.org/3", "", "", "", ""]]
    (project / "items.csv").write_bytes(_excel_csv(rows))
    monkeypatch.chdir(project)
    before = snapshot(project)
    result = run(project, "collect", "items.csv", JULY)
    assert result.exit_code == 1
    # row 2 spans two lines (a line break in its summary), so the bad rows start on lines 4-6
    assert "error: items.csv:4: date: not a real date: '31/07/2023'" in result.stderr
    assert "error: items.csv:5: links[1].url: bad URL 'www.example.org/2'" in result.stderr
    assert "error: items.csv:6: theme: unknown theme 'Online safty' (did you mean 'Online safety'?)" in result.stderr
    assert snapshot(project) == before


def test_unknown_columns_are_named(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "items.csv").write_text("title,date,sumary,link_url\nT,2023-07-01,S,https://e.example.org\n",
                                       encoding="utf-8")
    monkeypatch.chdir(project)
    result = run(project, "collect", "items.csv", JULY)
    assert result.exit_code == 1
    assert "error: items.csv:1: sumary: unknown column (did you mean 'summary'?)" in result.stderr
    assert "error: items.csv:1: no 'summary' column" in result.stderr


def test_a_configured_feed_file_is_found_beside_the_config(project: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "feeds").mkdir()
    (project / "feeds" / "partnership.xml").write_bytes((DATA / "rss10.rdf").read_bytes())
    configure(project, """
        sources:
          - url: feeds/partnership.xml
            name: University library
        theme_rules:
          Neglect: [tag:neglect]
        """)
    monkeypatch.chdir(tmp_path)  # anywhere else
    result = run(project, "collect", JULY)
    assert result.exit_code == 0, result.output
    item = by_title(project)["Neglect in adolescence: a practice handbook"]
    assert item.source == "University library" and item.theme == "Neglect"
    # naming the same file on the command line keeps the config's name and rules
    (project / "items" / Path(item.path).name).unlink()
    with sqlite3.connect(project / "newsletter.db") as db:
        db.execute("DELETE FROM collected")
    monkeypatch.chdir(project)
    assert run(project, "collect", "feeds/partnership.xml", JULY).exit_code == 0
    assert by_title(project)["Neglect in adolescence: a practice handbook"].source == "University library"


def test_each_source_says_when_its_download_ends(project: Path, feeds: FeedServer) -> None:
    feeds.serve_file("/slow.xml", "rss2.xml", delay=1)
    result = run(project, "collect", feeds.url("/slow.xml"), feeds.url("/cfr.atom"), feeds.url("/missing.xml"), JULY)
    progress = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 3 and [line[:5] for line in progress] == ["[1/3]", "[2/3]", "[3/3]"]
    assert progress[-1].startswith(f"[3/3] {feeds.url('/slow.xml')}: ")  # the slow one last, the others not held
    assert any(line.endswith(": failed (HTTP 404 Not Found)") for line in progress)
    assert any(f"] {feeds.url('/cfr.atom')}: " in line and line.endswith(" KB") for line in progress)
