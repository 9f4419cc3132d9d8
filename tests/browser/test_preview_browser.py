"""The preview in Debian's Chromium: what the comms officer sees, clicks and edits.

Each test runs a real preview server (uvicorn, file watchers on) over its own copy of the
sample project; the browser may reach 127.0.0.1 only (everything else is aborted).
Screenshots of the desktop, mobile and dark views go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from support.browser import local_context
from support.previewkit import NEGLECT_ITEM, NEGLECT_TITLE, live_build

from newsletter.preview import LiveBuild

pytestmark = pytest.mark.browser

WAIT_MS = 15_000  # upper bound for a rebuild and reload to show; they usually take < 1 s


@pytest.fixture
def live(project: Path) -> LiveBuild:
    return live_build(project)


@pytest.fixture
def page(chromium: Browser, base: str) -> Iterator[Page]:
    context = local_context(chromium, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def email_style(page: Page, selector: str, prop: str) -> str:
    """A computed style inside the email's frame, read through the page's own DOM."""
    return str(page.evaluate(
        "([sel, prop]) => { const doc = document.querySelector('#email-frame').contentDocument;"
        " return getComputedStyle(doc.querySelector(sel))[prop]; }", [selector, prop]))


def frame_width(page: Page) -> float:
    box = page.locator("#email-frame").bounding_box()
    assert box is not None
    return float(box["width"])


def test_page_loads_with_the_issue_and_its_inbox_line(page: Page, base: str, artifacts: Path) -> None:
    page.goto(base)
    expect(page).to_have_title("Safeguarding digest: what's new in July 2023 · newsletter")
    expect(page.locator(".inbox .subject")).to_have_text("Safeguarding digest: what's new in July 2023")
    email = page.frame_locator("#email-frame")
    expect(email.locator("h1")).to_have_text("Safeguarding digest")
    expect(email.locator("h3", has_text=NEGLECT_TITLE)).to_be_visible()
    assert frame_width(page) == 700
    page.screenshot(path=str(artifacts / "preview-desktop.png"), full_page=True)


def test_mobile_toggle_narrows_the_rendered_email(page: Page, base: str, artifacts: Path) -> None:
    page.goto(base)
    expect(page.frame_locator("#email-frame").locator("h1")).to_be_visible()
    desktop_wrap = float(email_style(page, ".wrap", "width").removesuffix("px"))
    assert desktop_wrap == 600
    page.get_by_role("link", name="Mobile").click()
    expect(page.get_by_role("link", name="Mobile")).to_have_attribute("aria-pressed", "true")
    expect(page.frame_locator("#email-frame").locator("h1")).to_be_visible()
    assert frame_width(page) == 375
    mobile_wrap = float(email_style(page, ".wrap", "width").removesuffix("px"))
    assert mobile_wrap <= 375  # the email's own small-screen rule took over
    page.screenshot(path=str(artifacts / "preview-mobile.png"), full_page=True)


def test_dark_view_applies_the_emails_dark_styles(page: Page, base: str, artifacts: Path) -> None:
    page.goto(f"{base}/?view=mobile")
    expect(page.frame_locator("#email-frame").locator("h1")).to_be_visible()
    assert email_style(page, ".wrap", "backgroundColor") == "rgb(255, 255, 255)"
    page.get_by_role("link", name="Dark").click()
    expect(page.get_by_role("link", name="Dark")).to_have_attribute("aria-pressed", "true")
    expect(page.frame_locator("#email-frame").locator("h1")).to_be_visible()
    # the dark palette derived from the sample's accent (config/palette.py, issue 15)
    assert email_style(page, ".wrap", "backgroundColor") == "rgb(21, 29, 40)"  # #151d28
    assert email_style(page, ".wrap", "color") == "rgb(223, 228, 234)"  # #dfe4ea
    assert frame_width(page) == 375  # the width choice is kept
    page.screenshot(path=str(artifacts / "preview-mobile-dark.png"), full_page=True)


def test_plain_text_and_headers_tabs(page: Page, base: str, live: LiveBuild) -> None:
    page.goto(base)
    page.get_by_role("link", name="Plain text").click()
    text_part = live.snapshot.result.files["email.txt"].decode()  # type: ignore[union-attr]
    expect(page.locator("#text-part")).to_have_text(text_part.rstrip("\n"), use_inner_text=True)
    expect(page.locator("#text-part")).to_contain_text("SAFEGUARDING DIGEST")
    page.get_by_role("link", name="Headers").click()
    expect(page.locator("#headers")).to_contain_text("List-Unsubscribe-Post")


def test_editing_an_item_shows_the_new_title_without_a_reload(page: Page, base: str, project: Path) -> None:
    page.goto(base)
    email = page.frame_locator("#email-frame")
    expect(email.locator("h3", has_text=NEGLECT_TITLE)).to_be_visible()
    page.evaluate("window.notReloaded = true")
    item = project / NEGLECT_ITEM
    item.write_text(item.read_text().replace(NEGLECT_TITLE, "Neglect: what case reviews teach us"))
    expect(email.locator("h3", has_text="Neglect: what case reviews teach us")).to_be_visible()
    expect(email.locator("h3", has_text=NEGLECT_TITLE)).to_have_count(0)
    assert page.evaluate("window.notReloaded === undefined")  # the page reloaded by itself


def test_a_broken_item_shows_its_error_and_fixing_it_brings_the_issue_back(
        page: Page, base: str, project: Path, artifacts: Path) -> None:
    page.goto(f"{base}/?view=mobile")
    expect(page.frame_locator("#email-frame").locator("h1")).to_be_visible()
    item = project / NEGLECT_ITEM
    good = item.read_text()
    item.write_text(good.replace("date: 2023-07-10", "date: 2023-07-32"))
    errors = page.locator("#build-errors")
    expect(errors).to_contain_text("The issue cannot be built")
    expect(errors.locator(".file")).to_have_text(NEGLECT_ITEM)
    expect(errors.locator(".line")).to_have_text("2")
    expect(errors.locator(".message")).to_contain_text("not a real date: '2023-07-32'")
    expect(errors.locator(".hint")).to_contain_text("YYYY-MM-DD")
    expect(errors.locator(".src-line.here")).to_contain_text("date: 2023-07-32")
    page.screenshot(path=str(artifacts / "preview-build-error.png"), full_page=True)
    item.write_text(good)
    expect(page.frame_locator("#email-frame").locator("h3", has_text=NEGLECT_TITLE)).to_be_visible()
    expect(page.locator("#build-errors")).to_have_count(0)
    assert frame_width(page) == 375  # still the mobile view after recovering


def test_send_test_lands_in_the_outbox_and_opens_sandboxed(page: Page, base: str, artifacts: Path) -> None:
    page.goto(base)
    page.get_by_label("Address").fill("officer@example.org")
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("status")).to_contain_text("Test sent to officer@example.org")
    page.get_by_role("link", name="Open the outbox").click()
    row = page.locator("#outbox tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("officer@example.org")
    row.get_by_role("link").click()
    expect(page.locator(".inbox .subject")).to_have_text("[TEST] Safeguarding digest: what's new in July 2023")
    message = page.frame_locator("#message-frame")
    expect(message.locator("h1")).to_have_text("Safeguarding digest")
    expect(page.locator("#text-part")).to_contain_text("SAFEGUARDING DIGEST")
    expect(page.locator("#headers")).to_contain_text("officer@example.org")
    assert "allow-scripts" not in (page.locator("#message-frame").get_attribute("sandbox") or "")
    page.screenshot(path=str(artifacts / "preview-outbox-message.png"), full_page=True)
