"""The web archive in Debian's Chromium: layout at desktop and mobile widths, search, no-JS.

Pages are opened from disk (file://), as a new user would, and over a local HTTP server
on 127.0.0.1 with directory URLs, as the email's "View it in your browser" link would.
Every request that is not file:// or 127.0.0.1 is aborted, so remote item images never load.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from support.browser import local_context
from support.project import copy_sample

from newsletter.archive import build_archive
from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project (as conftest's `project`), June-August built and archived."""
    root = copy_sample(tmp_path_factory.mktemp("archive-browser") / "digest")
    config = load_config(root / "newsletter.yaml")
    for month in ("2023-06", "2023-07", "2023-08"):
        build_issue(config, parse_range(month, None, None))
    build_archive(config, root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """A static file server over the site on 127.0.0.1 (port 0), like any static host."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def _context(browser: Browser, width: int, **options: object) -> BrowserContext:
    context = local_context(browser, viewport={"width": width, "height": 800}, **options)
    context.set_default_timeout(5000)
    return context


def _no_horizontal_scroll(page: Page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize("width", [1280, 375], ids=["desktop", "mobile"])
@pytest.mark.parametrize("name", ["index.html", "2023-07/index.html"], ids=["index", "issue"])
def test_pages_fit_the_window_without_horizontal_scrolling(chromium: Browser, site: Path, artifacts: Path,
                                                           width: int, name: str) -> None:
    context = _context(chromium, width)
    page = context.new_page()
    page.goto((site / name).as_uri())
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("link[rel=stylesheet]")).to_have_count(1)
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") != "none"  # site.css applied
    scroll_width, inner_width = _no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts / f"archive-{name.replace('/', '-')}-{width}.png"), full_page=True)
    assert scroll_width <= inner_width
    context.close()


def test_search_finds_an_item_by_a_word_of_its_summary(chromium: Browser, site: Path, artifacts: Path) -> None:
    context = _context(chromium, 1280)
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    box = page.get_by_label("Search item titles and summaries")
    expect(box).to_be_visible()
    box.press_sequentially("strangers")  # only in the livestreaming item's summary
    expect(page.locator("#search-status")).to_have_text("1 item found")
    result = page.locator("#search-results a")
    expect(result).to_have_text(["How children use livestreaming platforms"])
    page.screenshot(path=str(artifacts / "archive-search.png"))
    result.click()
    expect(page).to_have_url((site / "2023-08" / "index.html").as_uri()
                             + "#item-how-children-use-livestreaming-platforms")
    expect(page.locator("#item-how-children-use-livestreaming-platforms h3")).to_be_in_viewport()
    context.close()


def test_search_reports_no_match_and_reads_q_from_the_address(chromium: Browser, server: str) -> None:
    context = _context(chromium, 375)
    page = context.new_page()
    page.goto(f"{server}/?q=neglect+poverty")
    expect(page.locator("#search-results a")).to_have_text(["Working with families where neglect and poverty overlap"])
    page.get_by_label("Search item titles and summaries").fill("zebra crossing")
    expect(page.locator("#search-status")).to_have_text("0 items found")
    expect(page.locator("#search-results li")).to_have_count(0)
    context.close()


def test_without_javascript_the_search_is_hidden_and_pages_still_work(chromium: Browser, site: Path) -> None:
    context = _context(chromium, 375, java_script_enabled=False)
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    expect(page.locator("#search")).to_be_hidden()
    page.get_by_role("link", name="July 2023").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Safeguarding digest July 2023")
    page.get_by_role("link", name="Every item on Neglect").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Safeguarding digest Neglect")
    context.close()


def test_directory_urls_work_on_a_web_server(chromium: Browser, server: str) -> None:
    """The email links to `<archive_url>/<slug>/`: a static host serves the issue page there."""
    context = _context(chromium, 1280)
    page = context.new_page()
    response = page.goto(f"{server}/2023-07/")
    assert response is not None and response.ok
    expect(page).to_have_title("July 2023 · Safeguarding digest")
    page.get_by_role("link", name="June 2023").click()  # the "older issue" link
    expect(page).to_have_url(f"{server}/2023-06/index.html")
    page.locator("a.skip").focus()
    expect(page.locator("a.skip")).to_be_in_viewport()
    context.close()
