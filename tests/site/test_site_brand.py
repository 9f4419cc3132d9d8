"""The subscriber site's frame (templates/site/base.html) and the confirmation mail: the
brand when it is configured, plain working pages when it is not, and a CSP that lets in the
logo's origin and nothing else."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.project import set_token_secret

from newsletter.config import Config, Logo, load_config, palette_for
from newsletter.send import Confirmation, compose_confirmation
from newsletter.site.app import create_app
from newsletter.site.pages import logo_source
from newsletter.tokens import make_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"site-brand-secret"


def configured(project: Path, monkeypatch: pytest.MonkeyPatch, extra: str, drop: tuple[str, ...] = ()) -> Config:
    path = project / "newsletter.yaml"
    text = path.read_text(encoding="utf-8")
    for key in drop:
        text = re.sub(rf"^{key}:.*\n(?:[ #].*\n)*", "", text, flags=re.MULTILINE)
    path.write_text(text + extra, encoding="utf-8")
    return set_token_secret(monkeypatch, load_config(path), SECRET)


@pytest.mark.parametrize(("src", "source"), [
    ("https://example.org/brand/logo.png", "https://example.org"),
    ("https://CDN.Example.org:8443/l.png?v=2", "https://cdn.example.org:8443"),
    ("https://example.org;script-src/x.png", None),  # would end the directive
    ("https://*.example.org/x.png", None),  # a wildcard is no logo's host
    ("https://[::1]/x.png", None),
])
def test_the_csp_lets_in_the_logos_origin_only(src: str, source: str | None) -> None:
    assert logo_source(Logo(src=src, alt="Logo", width=160)) == source
    assert logo_source(None) is None


def test_pages_without_logo_or_organisation_have_neither_and_load_nothing(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configured(project, monkeypatch, 'subscribe: {url: "https://example.org/subscribe"}\n',
                        drop=("logo", "organisation"))
    client = TestClient(create_app(config))
    token = make_token(SECRET, config.list_id, "ann@example.org")
    for path in (f"/unsubscribe?t={token}", "/subscribe", "/unsubscribe?t=bad"):
        page = client.get(path)
        assert page.status_code in (200, 400), path
        assert "<img" not in page.text and "<footer" not in page.text and "Privacy notice" not in page.text
        assert "img-src" not in page.headers["content-security-policy"]
        assert '<p class="list">Safeguarding digest</p>' in page.text


def test_the_site_uses_the_emails_palette_not_the_raw_accent(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configured(project, monkeypatch, 'colors: {accent: "#ffcc00"}\n')
    palette = palette_for(config.colors)
    token = make_token(SECRET, config.list_id, "ann@example.org")
    html = TestClient(create_app(config)).get(f"/unsubscribe?t={token}").text
    assert f"a {{ color: {palette.light.link}; }}" in html and palette.light.link != "#ffcc00"
    assert f"color: {palette.light.on_mast}; background: #ffcc00;" in html
    assert f"a {{ color: {palette.dark.link}; }}" in html
    assert "#6cb4ff" not in html  # the old fixed dark-mode blue


def test_the_confirmation_mail_has_text_first_and_a_branded_html_part(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configured(project, monkeypatch, 'colors: {accent: "#ffcc00"}\n'
                        "organisation: {name: Example Trust, address: '1 High St', "
                        "privacy_url: 'https://example.org/privacy'}\n", drop=("organisation",))
    link = "https://example.org/subscribe/confirm?t=a&b"
    raw = compose_confirmation(config, Confirmation('"<b>x</b>"@example.org', link, dt.datetime(2026, 1, 8)))
    message = email.message_from_bytes(raw, policy=policy.default)
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert link in text and "8 January 2026" in text  # the language's long date (i18n.format_day)
    assert html.count('href="https://example.org/subscribe/confirm?t=a&amp;b"') == 2  # button and written out
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # the address is escaped
    assert 'alt="Example Trust Learning"' in html and "1 High St" in html
    assert '<a href="https://example.org/privacy"' in html
    assert f"color:{palette_for(config.colors).light.link}" in html  # the AA link colour, inlined
    assert "@@nl:" not in html
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_the_confirmation_mail_works_without_the_brand(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configured(project, monkeypatch, "", drop=("logo", "organisation"))
    raw = compose_confirmation(config, Confirmation("ann@example.org", "https://example.org/c?t=x", dt.datetime(2026, 1, 8)))
    html = email.message_from_bytes(raw, policy=policy.default).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<img" not in html and 'class="foot"' not in html and "https://example.org/c?t=x" in html
