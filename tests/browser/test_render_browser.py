"""The built email in Debian's Chromium (conftest's `chromium`): the mobile and dark-mode rules really win."""

from __future__ import annotations

import pytest

from newsletter.daterange import parse_range
from newsletter.issue import build_issue

pytestmark = pytest.mark.browser


@pytest.fixture
def email_url(config):
    return (build_issue(config, parse_range("2023-07", None, None)).folder / "email.html").as_uri()


def _wrap_width(browser, url, width, scheme="light", shot=None):
    page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    page.goto(url)
    box = page.eval_on_selector(".wrap", "e => [e.getBoundingClientRect().width, getComputedStyle(e).backgroundColor]")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    page.close()
    return box, scroll


def test_desktop_layout_is_600px(chromium, email_url, artifacts):
    (width, background), _ = _wrap_width(chromium, email_url, 1024, shot=artifacts / "email-desktop.png")
    assert width == 600
    assert background == "rgb(255, 255, 255)"


def test_mobile_rule_applies_at_375px(chromium, email_url, artifacts):
    (width, _), scroll = _wrap_width(chromium, email_url, 375, shot=artifacts / "email-mobile.png")
    assert width == 375  # the inlined width:600px lost to the @media rule
    assert scroll <= 375  # no sideways scrolling


def test_dark_mode_block_wins_over_inlined_colours(chromium, email_url, artifacts):
    (_, background), _ = _wrap_width(chromium, email_url, 1024, scheme="dark", shot=artifacts / "email-dark.png")
    assert background == "rgb(21, 29, 40)"  # #151d28: derived from the brand accent (config/palette.py)
