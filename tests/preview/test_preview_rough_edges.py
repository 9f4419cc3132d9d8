"""The preview in Chromium (issue 21): "Send test" stays on the issue page as it was, the
plain text keeps long URLs whole, the outbox list refreshes itself, nothing overflows at
375 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from support.browser import in_own_thread, local_context
from support.previewkit import live_build

from newsletter.issue import build_issue
from newsletter.preview.livebuild import LiveBuild
from newsletter.send import send_test

pytestmark = pytest.mark.browser

WAIT_MS = 15_000
LONG_URL = ("https://learning.nspcc.example.org/research-resources/2023/"
            "a-very-long-address-for-a-report-on-safeguarding-practice-in-schools-and-colleges")


@pytest.fixture
def live(project: Path) -> LiveBuild:
    item = project / "items" / "long-link.yaml"
    item.write_text(
        "title: A report with a long address\ndate: 2023-07-12\nsource: Example Source\ntheme: Neglect\n"
        "summary: A summary.\nlinks:\n  - label: Read the report\n    title: The report\n"
        f"    url: {LONG_URL}\n", encoding="utf-8")
    return live_build(project)


def open_page(chromium: Browser, width: int) -> Iterator[Page]:
    context = local_context(chromium, viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    yield from open_page(chromium, 1280)


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    yield from open_page(chromium, 375)


def overflows_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def test_send_test_stays_on_the_issue_page(page: Page, base: str, artifacts: Path) -> None:
    page.goto(f"{base}/?view=mobile&scheme=dark&tab=text")
    page.get_by_label("Address").fill("officer@example.org")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("status")).to_contain_text("Test sent to officer@example.org")
    url = page.url
    assert "/send-test" not in url and "view=mobile" in url and "scheme=dark" in url and "tab=text" in url
    expect(page.get_by_role("link", name="Issue: July 2023")).to_have_attribute("aria-current", "page")
    expect(page.locator("#text-part")).to_be_visible()  # still the tab it was on
    expect(page.locator(".topics")).to_have_count(1)  # the theme chooser is still there
    expect(page.get_by_label("Address")).to_have_value("officer@example.org")
    page.screenshot(path=str(artifacts / "preview-send-test-result.png"), full_page=True)
    page.reload()  # reloading the result page sends nothing again
    expect(page.get_by_role("status")).to_contain_text("Test sent to officer@example.org")
    page.goto(f"{base}/outbox")
    expect(page.locator("#outbox tbody tr")).to_have_count(1)


def test_a_refused_address_is_shown_on_the_issue_page(page: Page, base: str) -> None:
    page.goto(base)
    page.get_by_label("Address").fill("someone@localhost")  # passes the browser, not the server
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#send-test [role=alert]")).to_contain_text("someone@localhost")
    assert page.url.split("?")[0] == f"{base}/"
    expect(page.get_by_role("link", name="Issue: July 2023")).to_have_attribute("aria-current", "page")


def test_plain_text_keeps_long_urls_on_one_line(page: Page, base: str) -> None:
    page.goto(f"{base}/?tab=text")
    text = page.locator("#text-part")
    expect(text).to_contain_text(LONG_URL)
    lines = page.evaluate(
        """(url) => { const el = document.querySelector('#text-part');
                      const node = [...el.childNodes].find(n => n.textContent.includes(url));
                      const range = document.createRange();
                      const start = node.textContent.indexOf(url);
                      range.setStart(node, start); range.setEnd(node, start + url.length);
                      return range.getClientRects().length; }""", LONG_URL)
    assert lines == 1  # the address is not broken over two lines


def test_outbox_list_refreshes_by_itself(page: Page, base: str, live: LiveBuild) -> None:
    page.goto(f"{base}/outbox")
    expect(page.locator(".empty")).to_be_visible()
    assert live.config is not None
    in_own_thread(send_test, live.config, build_issue(live.config, live.date_range), ["late@example.org"])  # as from a terminal
    expect(page.locator("#outbox tbody tr")).to_contain_text("late@example.org")


@pytest.mark.parametrize("path", ["/", "/?tab=text", "/?tab=headers", "/?view=mobile", "/outbox"])
def test_nothing_overflows_sideways_at_375_px(phone: Page, base: str, path: str, artifacts: Path) -> None:
    phone.goto(base + path)
    expect(phone.locator("header.bar")).to_be_visible()
    assert not overflows_sideways(phone), path
    if path == "/":
        phone.screenshot(path=str(artifacts / "preview-375.png"), full_page=True)
