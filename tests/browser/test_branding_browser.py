"""The branded email in Debian's Chromium at Gmail's and Apple Mail's widths, light and dark:
screenshots kept in test-artifacts/, and the colours the reader sees read from the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.browser import local_page

from newsletter.config import Config, load_config, palette_for
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

pytestmark = pytest.mark.browser

ACCENT = "#6b2c91"


def rgb(color: str) -> str:
    value = color.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(value[i:i + 2], 16) for i in (0, 2, 4)))


@pytest.fixture
def purple(project: Path) -> tuple[Config, str]:
    """The sample with a purple brand accent, built; (config, email.html's file URL)."""
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + f'colors: {{accent: "{ACCENT}"}}\n', encoding="utf-8")
    config = load_config(path)
    folder = build_issue(config, parse_range("2023-07", None, None)).folder
    return config, (folder / "email.html").as_uri()


STYLES = """() => {
  const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
  return {
    mast: css('.mast', 'backgroundColor'), mastText: css('.mast h1', 'color'),
    link: css('.toc a', 'color'), body: css('.wrap', 'backgroundColor'), text: css('.wrap', 'color'),
    button: css('.btn-cell', 'backgroundColor'), buttonText: css('.btn', 'color'),
    wrap: document.querySelector('.wrap').getBoundingClientRect().width,
    logo: document.querySelector('.logo').getAttribute('width'),
    footLeft: document.querySelector('.foot p').getBoundingClientRect().left,
    bodyLeft: document.querySelector('.pad p').getBoundingClientRect().left,
    scroll: document.documentElement.scrollWidth,
  };
}"""


@pytest.mark.parametrize("width", [600, 375])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_brand_holds_in_both_modes_and_widths(chromium, purple, artifacts, width: int, scheme: str) -> None:
    config, url = purple
    palette = palette_for(config.colors)
    colours = palette.light if scheme == "light" else palette.dark
    with local_page(chromium, viewport={"width": width, "height": 900}, color_scheme=scheme) as page:
        page.goto(url)
        seen = page.evaluate(STYLES)
        page.screenshot(path=str(artifacts / f"branded-{width}-{scheme}.png"), full_page=True)
    assert seen["mast"] == rgb(ACCENT)  # the masthead keeps the brand in dark mode too
    assert seen["button"] == rgb(ACCENT)
    assert seen["mastText"] == seen["buttonText"] == rgb(colours.on_mast)
    assert seen["link"] == rgb(colours.link)
    assert seen["body"] == rgb(colours.background) and seen["text"] == rgb(colours.text)
    if scheme == "dark":
        assert seen["link"] != rgb(ACCENT)  # lightened just enough to read on the dark body
    assert seen["wrap"] == width and seen["scroll"] <= width
    assert seen["logo"] == "160"
    assert seen["footLeft"] == seen["bodyLeft"]  # the footer lines up with the body text
