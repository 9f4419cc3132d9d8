"""The subscriber site and the confirmation mail in the brand, in Debian's Chromium: the
logo (loaded through the CSP), the organisation footer with the privacy link, and the
colours a reader sees, read from the page, at WCAG AA with a light and a dark accent."""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from support.browser import local_page, record_traffic
from support.project import serve_asgi, set_token_secret

from newsletter.config import AA_CONTRAST, Config, contrast_ratio, load_config
from newsletter.send import Confirmation, compose_confirmation
from newsletter.site import create_app
from newsletter.tokens import make_token

pytestmark = pytest.mark.browser

SECRET = b"browser-brand-secret"
PRIVACY = "https://example.org/privacy"
# a 1x1 PNG, served as the logo in place of example.org's (the browser never leaves 127.0.0.1)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

COLOURS = """() => {
  const card = getComputedStyle(document.querySelector('.card')).backgroundColor;
  const shown = el => el.offsetParent !== null;
  const pairs = [];
  for (const b of document.querySelectorAll('button')) {
    if (!shown(b)) continue;
    const s = getComputedStyle(b);
    const bg = s.backgroundColor === 'rgba(0, 0, 0, 0)' ? card : s.backgroundColor;
    pairs.push({what: 'button ' + b.textContent.trim(), fg: s.color, bg: bg});
  }
  for (const a of document.querySelectorAll('main a, .foot a')) {
    if (shown(a)) pairs.push({what: 'link ' + a.textContent.trim(), fg: getComputedStyle(a).color, bg: card});
  }
  const mast = document.querySelector('.mast');
  pairs.push({what: 'masthead', fg: getComputedStyle(mast).color, bg: getComputedStyle(mast).backgroundColor});
  return pairs;
}"""


def hex_of(css: str) -> str:
    r, g, b = (int(n) for n in re.findall(r"\d+", css)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def low_contrast(page: Page) -> list[tuple[str, str, str, float]]:
    """Every button, link and the masthead whose text reads below 4.5:1, as computed by Chromium."""
    pairs: list[dict[str, Any]] = page.evaluate(COLOURS)
    assert any(p["what"].startswith("button") for p in pairs) or page.locator("button").count() == 0
    found = []
    for pair in pairs:
        ratio = contrast_ratio(hex_of(pair["fg"]), hex_of(pair["bg"]))
        if ratio < AA_CONTRAST:
            found.append((pair["what"], pair["fg"], pair["bg"], round(ratio, 2)))
    return found


def branded(project: Path, monkeypatch: pytest.MonkeyPatch, accent: str, extra: str = "") -> Config:
    path = project / "newsletter.yaml"
    text = path.read_text(encoding="utf-8").replace(
        '  contact: "https://example.org/contact"\n', f'  contact: "https://example.org/contact"\n  privacy_url: "{PRIVACY}"\n')
    path.write_text(text + f'colors: {{accent: "{accent}"}}\n'
                    'preferences_url: "https://example.org/unsubscribe/preferences"\n'
                    'subscribe: {url: "https://example.org/subscribe"}\n' + extra, encoding="utf-8")
    return set_token_secret(monkeypatch, load_config(path), SECRET)


def serve_logo(page: Page, config: Config) -> None:
    assert config.logo is not None

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="image/png", body=PNG)

    page.route(config.logo.src, fulfil)  # before the context's own local-only route


@pytest.mark.parametrize("accent", ["#ffcc00", "#1a237e"], ids=["light-yellow", "dark-navy"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_carries_the_brand_and_reads_at_aa(
    project: Path, monkeypatch: pytest.MonkeyPatch, chromium: Browser, artifacts: Path, accent: str, scheme: str
) -> None:
    config = branded(project, monkeypatch, accent)
    assert config.logo is not None and config.organisation is not None
    token = make_token(SECRET, config.list_id, "ruth@example.org")
    pages = {
        "unsubscribe": f"/unsubscribe?t={token}",
        "topics": f"/unsubscribe/preferences?t={token}",
        "sign-up": "/subscribe",
        "confirm-invalid": "/subscribe/confirm?t=not-a-link",
    }
    with serve_asgi(create_app(config)) as base, local_page(chromium, color_scheme=scheme) as page:
        serve_logo(page, config)
        requests, console = record_traffic(page)
        for name, path in pages.items():
            page.goto(base + path)
            logo = page.get_by_role("img", name=config.logo.alt)
            expect(logo).to_be_visible()
            assert page.evaluate("() => document.querySelector('img.logo').naturalWidth") == 1, name  # CSP let it in
            footer = page.get_by_role("contentinfo")
            for line in ("Example Trust", "42 Weston Street, London SE1 3QD", "Registered charity 1234567"):
                expect(footer).to_contain_text(line)
            expect(footer.get_by_role("link", name="Privacy notice")).to_have_attribute("href", PRIVACY)
            expect(footer.get_by_role("link", name="Contact Example Trust")).to_be_visible()
            assert low_contrast(page) == [], (name, accent, scheme)
            page.screenshot(path=str(artifacts / f"site-brand-{name}-{accent[1:]}-{scheme}.png"), full_page=True)
        page.goto(base + pages["unsubscribe"])
        button = page.get_by_role("button", name="Unsubscribe")
        fg, bg = button.evaluate("b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
        assert contrast_ratio(hex_of(fg), hex_of(bg)) >= AA_CONTRAST, (fg, bg)
        assert hex_of(bg) == accent  # the button keeps the brand; its text is what changes
        page.goto(base + pages["sign-up"])
        expect(page.locator(".consent").get_by_role("link", name="How we use your details")).to_have_attribute(
            "href", PRIVACY)
    assert set(requests) - {config.logo.src} == {u for u in requests if u.startswith(base)}, requests
    assert not [m for m in console if "Content Security Policy" in m], console


def test_pages_work_without_logo_or_organisation(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                 chromium: Browser) -> None:
    path = project / "newsletter.yaml"
    text = re.sub(r"^(logo|organisation):.*\n(?:[ #].*\n)*", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    path.write_text(text + 'colors: {accent: "#ffcc00"}\n', encoding="utf-8")
    config = set_token_secret(monkeypatch, load_config(path), SECRET)
    assert config.logo is None and config.organisation is None
    token = make_token(SECRET, config.list_id, "ruth@example.org")
    with serve_asgi(create_app(config)) as base, local_page(chromium) as page:
        requests, console = record_traffic(page)
        page.goto(f"{base}/unsubscribe?t={token}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from Safeguarding digest?")
        assert page.get_by_role("img").count() == 0 and page.get_by_role("contentinfo").count() == 0
        assert low_contrast(page) == []
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("status")).to_have_text("You are unsubscribed")
    assert all(u.startswith(base) for u in requests), requests
    assert not [m for m in console if "Content Security Policy" in m], console


@pytest.mark.parametrize("accent", ["#ffcc00", "#1a237e"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_confirmation_mail_carries_the_brand(project: Path, monkeypatch: pytest.MonkeyPatch, chromium: Browser,
                                                 artifacts: Path, accent: str, scheme: str) -> None:
    import email
    from email import policy

    config = branded(project, monkeypatch, accent)
    assert config.logo is not None
    link = "https://example.org/subscribe/confirm?t=abc"
    raw = compose_confirmation(config, Confirmation("ruth@example.org", link, dt.datetime(2026, 1, 8)))
    message = email.message_from_bytes(raw, policy=policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    with local_page(chromium, color_scheme=scheme) as page:
        serve_logo(page, config)
        page.set_content(html)
        expect(page.get_by_role("img", name=config.logo.alt)).to_be_visible()
        expect(page.get_by_role("link", name="Confirm your subscription")).to_have_attribute("href", link)
        expect(page.get_by_role("link", name="Privacy notice")).to_have_attribute("href", PRIVACY)
        expect(page.locator(".foot")).to_contain_text("42 Weston Street, London SE1 3QD")
        pairs = page.evaluate("""() => {
          const wrap = getComputedStyle(document.querySelector('.wrap')).backgroundColor;
          const out = [];
          for (const a of document.querySelectorAll('a')) {
            const cell = a.closest('.btn-cell');
            out.push([a.textContent.trim(), getComputedStyle(a).color,
                      cell ? getComputedStyle(cell).backgroundColor : wrap]);
          }
          return out;
        }""")
        page.screenshot(path=str(artifacts / f"confirmation-{accent[1:]}-{scheme}.png"), full_page=True)
    for what, fg, bg in pairs:
        assert contrast_ratio(hex_of(fg), hex_of(bg)) >= AA_CONTRAST, (what, fg, bg, accent, scheme)
