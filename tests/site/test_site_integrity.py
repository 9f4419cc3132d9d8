"""Subscriber-site integrity (issue 13): resubscribe rules, retired secrets, URLs that agree.

Through the real app (Starlette's TestClient) and real builds: what the subscriber sees
on the page, what stays on the suppression list, and what the config loader and `check`
tell the officer.
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.project import set_token_secret
from support.themekit import REPO

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.errors import NewsletterError
from newsletter.issue import build_issue, check_issue, check_unsubscribe_route, parse_html
from newsletter.site.app import create_app
from newsletter.tokens import make_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"site-integrity-secret"
OLD_SECRET = b"the-secret-before-rotation"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def site(config: Config, monkeypatch: pytest.MonkeyPatch) -> Config:
    return set_token_secret(monkeypatch, config, SECRET)


def link(config: Config, email: str, secret: bytes = SECRET) -> str:
    return f"/unsubscribe?t={make_token(secret, config.list_id, email)}"


def suppression(config: Config, email: str) -> journal.Suppression | None:
    db = journal.connect(config.state)
    try:
        return journal.get_suppression(db, email)
    finally:
        db.close()


def suppress(config: Config, email: str, reason: str, source: str) -> None:
    db = journal.connect(config.state)
    journal.suppress(db, email, reason, source)
    db.close()


def buttons(html: str) -> list[str]:
    return re.findall(r"<button\b[^>]*>(.*?)</button>", html, re.DOTALL)


# --- 4. resubscribe only undoes what the subscriber did ------------------------------------

@pytest.mark.parametrize(("reason", "source"), [("hard-bounce", "smtp:550 5.1.1 no such user"),
                                                ("complaint", "fbl"),
                                                ("unsubscribed", "csv:crm-optouts.csv")])
def test_resubscribe_keeps_what_the_subscriber_did_not_do(site: Config, reason: str, source: str) -> None:
    suppress(site, "dead@example.org", reason, source)
    client = TestClient(create_app(site))
    page = client.get(link(site, "dead@example.org"))
    assert "You are unsubscribed" in page.text and buttons(page.text) == []
    assert "get in touch" in page.text and "mailto:learning@example.org" in page.text
    # an old or forwarded email's form, posted anyway
    tok = make_token(SECRET, site.list_id, "dead@example.org")
    answer = client.post(link(site, "dead@example.org"), data={"t": tok, "action": "resubscribe"})
    assert answer.status_code == 200 and "Check your inbox" not in answer.text
    assert "get in touch" in answer.text
    kept = suppression(site, "dead@example.org")
    assert kept is not None and (kept.reason, kept.source) == (reason, source)
    # the officer can still lift it
    result = CliRunner().invoke(main, ["suppress", "remove", "dead@example.org", "--config", str(site.path)])
    assert result.exit_code == 0 and suppression(site, "dead@example.org") is None


def test_one_click_on_a_hard_bounced_address_does_not_make_it_resubscribable(site: Config) -> None:
    suppress(site, "gone@example.org", "hard-bounce", "bounce:5.1.1")
    client = TestClient(create_app(site))
    done = client.post(link(site, "gone@example.org"), data=ONE_CLICK)
    assert done.status_code == 200 and buttons(done.text) == []
    assert suppression(site, "gone@example.org").reason == "hard-bounce"  # type: ignore[union-attr]


@pytest.mark.parametrize("source", ["one-click", "web", "mailto"])
def test_resubscribe_lifts_the_subscribers_own_unsubscribe(site: Config, source: str) -> None:
    suppress(site, "back@example.org", "unsubscribed", source)
    client = TestClient(create_app(site))
    assert buttons(client.get(link(site, "back@example.org")).text) == ["Resubscribe"]
    tok = make_token(SECRET, site.list_id, "back@example.org")
    answer = client.post(link(site, "back@example.org"), data={"t": tok, "action": "resubscribe"})
    assert "Check your inbox" in answer.text  # a confirmation link is mailed; confirming lifts it
    assert suppression(site, "back@example.org") is not None


# --- 5. secrets evaluated per request ---------------------------------------------------------

def test_a_retired_secret_stops_working_on_its_date_while_the_app_runs(site: Config,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    until = dt.date(2026, 3, 31)
    site.path.write_text(site.path.read_text() + f"tokens: {{old_secrets_until: {until.isoformat()}}}\n")
    config = load_config(site.path)
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET_OLD", OLD_SECRET.decode())
    today = [until]
    client = TestClient(create_app(config, today=lambda: today[0]))  # started while the old secret is valid
    assert client.post(link(config, "kim@example.org", OLD_SECRET), data=ONE_CLICK).status_code == 200
    today[0] = until + dt.timedelta(days=1)  # the same running app, the next day
    refused = client.post(link(config, "lou@example.org", OLD_SECRET), data=ONE_CLICK)
    assert refused.status_code == 400 and suppression(config, "lou@example.org") is None
    assert client.post(link(config, "lou@example.org"), data=ONE_CLICK).status_code == 200  # the current one


# --- 5. URLs: the link in the mail and the route agree ------------------------------------------

def project_with(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "digest"
    root.mkdir()
    (root / "items").symlink_to(REPO / "items")
    text = (REPO / "newsletter.yaml").read_text(encoding="utf-8")
    assert old in text
    (root / "newsletter.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return root / "newsletter.yaml"


def test_unsubscribe_url_with_a_trailing_slash_works_end_to_end(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = project_with(tmp_path, 'url: "https://example.org/unsubscribe"', 'url: "https://example.org/unsubscribe/"')
    config = set_token_secret(monkeypatch, load_config(path), SECRET)
    assert config.unsubscribe_url == "https://example.org/unsubscribe"
    built = build_issue(config, parse_range("2023-07", None, None))
    assert not [f for f in check_issue(built.rendered, built.files, config) if f.rule == "unsubscribe-route"]
    # the one-click target a mail client would POST to, from the built message
    message = message_from_bytes(built.files["sample.eml"])
    [https] = re.findall(r"<(https://[^>]+)>", " ".join(str(message["List-Unsubscribe"]).split()))
    parts = urlsplit(https)
    sample = config.sample_recipient[1]
    monkeypatch.setenv(config.secret_env, SECRET.decode())
    client = TestClient(create_app(config), base_url="https://example.org")
    token = make_token(SECRET, config.list_id, sample)
    answer = client.post(f"{parts.path}?t={token}", data=ONE_CLICK, follow_redirects=False)
    assert answer.status_code == 200  # not a 307 to another path
    assert suppression(config, sample) is not None


@pytest.mark.parametrize(("bad", "says"), [
    ("https://example.org/un//subscribe", "must be plain"),
    ("https://example.org/unsubscribe#top", "#fragment"),
    ("https://example.org/unsubscribe?t=1", "`t=` query parameter"),
    ("https://example.org/%75nsubscribe", "must be plain"),
])
def test_an_unsubscribe_url_the_server_could_not_route_fails_at_its_line(tmp_path: Path, bad: str,
                                                                        says: str) -> None:
    path = project_with(tmp_path, 'url: "https://example.org/unsubscribe"', f'url: "{bad}"')
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    [line] = [n for n, text in enumerate(path.read_text().splitlines(), 1) if bad in text]
    assert f"newsletter.yaml:{line}: url:" in str(info.value) and says in str(info.value)


def test_preferences_url_is_normalised_like_the_unsubscribe_url(tmp_path: Path) -> None:
    path = project_with(tmp_path, '# preferences_url: "https://example.org/unsubscribe/preferences"',
                        'preferences_url: "https://example.org/unsubscribe/preferences/"')
    assert load_config(path).preferences_url == "https://example.org/unsubscribe/preferences"


@pytest.mark.parametrize("mailto", ['"unsubscribe@example.org\\r\\nBcc: everyone@example.org"',
                                    '"Unsubscribe <unsubscribe@example.org>"',
                                    '"unsubscribe@example.org?subject=stop"'])
def test_mailto_must_be_a_plain_address(tmp_path: Path, mailto: str) -> None:
    path = project_with(tmp_path, 'mailto: "unsubscribe@example.org"', f"mailto: {mailto}")
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    [line] = [n for n, text in enumerate(path.read_text().splitlines(), 1) if "mailto:" in text and "#" not in text]
    assert f"newsletter.yaml:{line}: mailto: not a plain email address" in str(info.value)
    assert "\r\n" not in str(info.value).replace("\\r\\n", "")


def test_check_reports_a_personal_link_the_server_does_not_answer(config: Config) -> None:
    token = make_token(SECRET, config.list_id, "ann@example.org")
    bent = f"https://example.org/unsubscribe/?t={token}"
    doc = parse_html(f'<html><body><a href="{bent}">Unsubscribe</a>'
                     f'<a href="https://example.org/news?t=3">News</a></body></html>')
    message = (f"List-Unsubscribe: <{bent}>, <mailto:unsubscribe@example.org>\r\n\r\nbody\r\n").encode()
    findings = check_unsubscribe_route(doc, f"Unsubscribe: {bent}\n", message, config)
    assert [f.rule for f in findings] == ["unsubscribe-route"] * 3
    assert "https://example.org/unsubscribe/ is not a page the subscriber site answers" in findings[0].message
