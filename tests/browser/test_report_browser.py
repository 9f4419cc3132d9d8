"""The preview's Report tab in Chromium: the charts are drawn (inline SVG, nothing
fetched) and readable in light and in dark mode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from support.browser import local_context, record_traffic
from support.clickkit import Clicked
from support.previewkit import live_build, running_preview

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def _contrast(a: str, b: str) -> float:
    def luminance(rgb: tuple[float, ...]) -> float:
        lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(_rgb(a)), luminance(_rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_report_tab_draws_its_charts_readably(clicked: Clicked, chromium: Browser, artifacts: Path,
                                                  scheme: str) -> None:
    live = live_build(clicked.sent.config.root)
    with running_preview(live, watch=False) as base:
        context = local_context(chromium, viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        page.goto(base)
        page.get_by_role("link", name="Report").click()
        expect(page).to_have_url(f"{base}/report")
        requests, _ = record_traffic(page)
        page.reload()  # the Report page alone: everything it loads is recorded
        expect(page.get_by_role("heading", name="Report: July 2023")).to_be_visible()
        themes = page.locator("#theme-chart svg")
        expect(themes).to_be_visible()
        expect(themes.locator("g.chart-row")).to_have_count(6)
        items = page.locator("#item-chart svg")
        expect(items.locator("g.chart-row")).to_have_count(12)
        expect(items).to_contain_text("fewer than 5")
        expect(items.locator("text", has_text=re.compile(r"^20$"))).to_have_count(1)
        expect(page.locator("#size-chart svg circle")).to_have_count(1)
        widest = max(float(w or 0) for w in items.locator("rect.chart-bar").evaluate_all(
            "rects => rects.map(r => r.getAttribute('width'))"))
        assert widest > 100  # the twenty clicks draw a bar; the two ("fewer than 5") do not
        panel = page.locator("#report")
        background = panel.evaluate("e => getComputedStyle(e).backgroundColor")
        text = themes.locator("text.chart-text").first.evaluate("e => getComputedStyle(e).fill")
        bar = themes.locator("rect.chart-bar").first.evaluate("e => getComputedStyle(e).fill")
        assert _contrast(text, background) >= 4.5, (scheme, text, background)
        assert _contrast(bar, background) >= 3, (scheme, bar, background)
        page.screenshot(path=str(artifacts / f"preview-report-{scheme}.png"), full_page=True)
        assert all(url.startswith(base) for url in requests)  # no chart script or font fetched
        context.close()
