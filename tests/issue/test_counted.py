"""`tracking: {clicks: true}` in the build: counted links in both parts of the email, never
in the archive, none at all with tracking off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.sendkit import make_project

from newsletter.archive import build_archive
from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.issue.build import build_issue
from newsletter.issue.counted import is_canary

pytestmark = pytest.mark.usefixtures("token_secret")
JULY = parse_range("2023-07", None, None)


def test_a_build_with_tracking_off_has_no_counted_link(project: Path) -> None:
    result = build_issue(load_config(project / "newsletter.yaml"), JULY)
    for name in ("email.html", "email.txt", "sample.eml"):
        assert b"/r/" not in result.files[name], name


def test_tracking_on_counts_every_item_link_in_both_parts(tmp_path: Path) -> None:
    config = make_project(tmp_path / "d", extra="tracking: {clicks: true}\n")
    result = build_issue(config, JULY)
    html = result.files["email.html"].decode()
    text = result.files["email.txt"].decode()
    html_links = set(re.findall(r'href="(https://example\.org/r/[^"]+)"', html))
    text_links = set(re.findall(r"https://example\.org/r/\S+", text))
    canaries = {u for u in html_links if is_canary(u, config)}
    assert len(canaries) == 1
    assert text_links == html_links - canaries  # the text part has what the HTML has, bar the canary
    for item in result.rendered.issue.items:  # no item URL is left uncounted
        for link in item.links:
            assert link.url not in html and link.url not in text
    assert not [f for f in result.findings if f.severity == "error"]


def test_the_archive_never_carries_counted_links(tmp_path: Path) -> None:
    config = make_project(tmp_path / "d", extra="tracking: {clicks: true}\narchive_url: https://example.org/digest\n")
    build_issue(config, JULY)
    out = tmp_path / "site"
    build_archive(config, out)
    pages = [p.read_text(encoding="utf-8") for p in out.rglob("*") if p.suffix in (".html", ".xml", ".txt")]
    assert pages and any("learning.nspcc.org.uk" in page for page in pages)
    assert not any("/r/2023-07/" in page for page in pages)
