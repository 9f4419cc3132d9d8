"""The email without its <style> block, as Gmail's apps with non-Google accounts and Gmail's
"View entire message" page show it: the inline styles alone must make it fit a phone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.browser import local_page
from support.project import item_yaml

from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue, preview_variant
from newsletter.preview import outlook_view

pytestmark = pytest.mark.browser

JULY = parse_range("2023-07", None, None)


def _without_styles(html: bytes, folder: Path, name: str) -> str:
    """The email with every <style> element removed (the inlined style="" attributes stay)."""
    text = html.decode("utf-8")
    stripped, count = re.subn(r"<style[^>]*>.*?</style>", "", text, flags=re.S | re.I)
    assert count >= 1 and "<style" not in stripped.lower()
    path = folder / name
    path.write_text(stripped, encoding="utf-8")
    return path.as_uri()


def _layout(browser, url: str, width: int, shot: Path | None = None) -> dict:
    with local_page(browser, viewport={"width": width, "height": 800}) as page:
        page.goto(url)
        found = page.evaluate("""() => ({
            scroll: document.documentElement.scrollWidth,
            client: document.documentElement.clientWidth,
            wrap: document.querySelector('.wrap').getBoundingClientRect().width,
            widest: Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right)),
        })""")
        if shot:
            page.screenshot(path=str(shot), full_page=True)
    return found


@pytest.mark.parametrize("width", [320, 375])
def test_the_sample_fits_a_phone_without_any_style_block(chromium, config, tmp_path, artifacts, width):
    result = build_issue(config, JULY)
    url = _without_styles(result.files["email.html"], tmp_path, "email-nostyle.html")
    found = _layout(chromium, url, width, artifacts / f"email-nostyle-{width}.png")
    assert found["scroll"] <= found["client"] == width  # no sideways scrolling
    assert found["widest"] <= width
    assert found["wrap"] == width


def test_a_theme_variant_fits_a_phone_without_any_style_block(chromium, config, tmp_path):
    result = build_issue(config, JULY, write=False)
    view = preview_variant(result, config, ["Online safety", "Neglect"])
    assert view.result is not None and view.result is not result
    url = _without_styles(view.result.files["email.html"], tmp_path, "variant-nostyle.html")
    found = _layout(chromium, url, 375)
    assert found["scroll"] <= found["client"] == 375
    assert found["widest"] <= 375


def test_without_styles_a_wide_window_still_gets_600px(chromium, config, tmp_path):
    result = build_issue(config, JULY, write=False)
    url = _without_styles(result.files["email.html"], tmp_path, "email-nostyle.html")
    assert _layout(chromium, url, 1024)["wrap"] == 600  # max-width inline, not only in @media


def test_in_the_outlook_view_the_ghost_table_holds_600px(chromium, config, tmp_path):
    """The preview's Outlook approximation (<!--[if mso]> opened, <style> and max-width struck
    out, as Word ignores them): the ghost table still keeps the email at 600 px."""
    html = build_issue(config, JULY, write=False).files["email.html"].decode("utf-8")
    path = tmp_path / "outlook.html"
    path.write_text(outlook_view(html), encoding="utf-8")
    assert _layout(chromium, path.as_uri(), 1024)["wrap"] == 600


def test_the_excerpt_of_a_big_issue_fits_a_phone_without_styles(chromium, empty_project, tmp_path):
    summary = '"' + "The review draws on interviews with practitioners and families in six areas. " * 4 + '"'
    for n in range(110):
        (empty_project / "items" / f"item{n:03}.yaml").write_text(item_yaml(
            title=f"A review of practice number {n} about supervision in child protection teams",
            url=f"https://example.org/reviews/{n}", summary=summary), encoding="utf-8")
    path = empty_project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "archive_url: https://example.org/digest\n", encoding="utf-8")
    result = build_issue(load_config(path), JULY, write=False)
    assert result.rendered.excerpt
    url = _without_styles(result.files["email.html"], tmp_path, "excerpt-nostyle.html")
    found = _layout(chromium, url, 320)
    assert found["scroll"] <= found["client"] == 320 and found["widest"] <= 320


def test_outlook_ghost_table_keeps_600px(config):
    html = build_issue(config, JULY, write=False).files["email.html"].decode("utf-8")
    ghost = re.search(r"<!--\[if mso\]><table[^>]*width=\"600\"[^>]*><tr><td width=\"600\"><!\[endif\]-->", html)
    assert ghost is not None
    assert 'class="wrap" width="100%"' in html
    assert re.search(r'class="wrap"[^>]*style="[^"]*width:100%; ?max-width:600px', html)
