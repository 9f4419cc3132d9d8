"""collect: a spreadsheet row reports all its problems in one run; a feed category that is
a configured theme's name files the entry there, whatever its case and spacing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.feedserver import FeedServer, Route

from newsletter.cli import main
from newsletter.issue import load_items

JULY = "2023-07"


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(project / "newsletter.yaml")])


def entry(title: str, day: int, categories: list[str]) -> str:
    tags = "".join(f"<category>{c}</category>" for c in categories)
    slug = title.lower().replace(" ", "-")
    return (f"<item><title>{title}</title><link>https://feed.example.org/{slug}</link>"
            f"<guid isPermaLink=\"false\">{slug}</guid><pubDate>Mon, {day:02d} Jul 2023 10:00:00 +0000</pubDate>"
            f"{tags}<description>About {title.lower()}.</description></item>")


def feed(*entries: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Partner news</title>'
            "<link>https://feed.example.org/</link><description>News.</description>"
            + "".join(entries) + "</channel></rss>").encode()


def test_a_row_with_several_problems_reports_them_all(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "items.csv").write_text(
        "title,date,source,theme,summary,link_url\n"
        "Good row,2023-07-03,Forum,Neglect,Fine.,https://e.example.org/good\n"
        "Bad row,31/07/2023,Forum,Online safty,Three problems.,www.example.org/bad\n", encoding="utf-8")
    monkeypatch.chdir(project)
    result = run(project, "collect", "items.csv", JULY)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: items.csv:3:")]
    assert "error: items.csv:3: date: not a real date: '31/07/2023' (write it as YYYY-MM-DD, e.g. 2023-07-03)" in errors
    assert any(line.startswith("error: items.csv:3: links[1].url: bad URL 'www.example.org/bad'") for line in errors)
    assert "error: items.csv:3: theme: unknown theme 'Online safty' (did you mean 'Online safety'?)" in errors
    assert "3 problems in the spreadsheet; nothing written from it" in result.stderr


def test_feed_categories_name_configured_themes(project: Path, feed_server: FeedServer) -> None:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent("""
        theme_rules:
          Neglect: [guidance]
        """), encoding="utf-8")
    feed_server.routes["/partner.xml"] = Route(feed(
        entry("Grooming guidance", 10, ["ONLINE  SAFETY"]),          # the category wins over the rule
        entry("Refuge places", 11, ["News", "domestic-abuse"]),      # any of several categories
        entry("Case review", 12, ["Reviews"]),                       # no theme's name: rules, then none
    ))
    result = run(project, "collect", feed_server.url("/partner.xml"), JULY)
    assert result.exit_code == 0, result.output
    themes = {item.title: item.theme for item in load_items(project / "items", root=project)}
    assert themes["Grooming guidance"] == "Online safety"
    assert themes["Refuge places"] == "Domestic abuse"
    assert themes["Case review"] == ""
    assert "Needs a theme (1)" in result.output
