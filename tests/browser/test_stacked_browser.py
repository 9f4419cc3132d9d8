"""An email stacking Welsh and English (`language_layout: stacked`) keeps the layout rules:
without its <style> block (as some clients show it) it still fits a phone, and the link
at the top lands on the English part."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.browser import local_page
from support.languagekit import stacked_project

from newsletter.daterange import parse_range
from newsletter.issue import build_issue

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("token_secret")]

JULY = parse_range("2023-07", None, None)


@pytest.mark.parametrize("width", [320, 375])
def test_the_stacked_email_fits_a_phone_without_any_style_block(chromium: Any, tmp_path: Path, width: int) -> None:
    config = stacked_project(tmp_path / "digest")
    html = build_issue(config, JULY, write=False).files["email.html"].decode("utf-8")
    stripped = re.sub(r"<style[^>]*>.*?</style>", "", html, flags=re.S | re.I)
    path = tmp_path / "stacked-nostyle.html"
    path.write_text(stripped, encoding="utf-8")
    with local_page(chromium, viewport={"width": width, "height": 800}) as page:
        page.goto(path.as_uri())
        found = page.evaluate("""() => ({
            scroll: document.documentElement.scrollWidth,
            client: document.documentElement.clientWidth,
            widest: Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right)),
        })""")
        assert found["scroll"] <= found["client"] == width
        assert found["widest"] <= width
        page.click("text=Read this newsletter in English")
        top = page.evaluate("() => document.getElementById('lang-en').getBoundingClientRect().top")
        assert abs(top) < 2  # the English part is at the top of the window
