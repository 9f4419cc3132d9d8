"""The welcome mail after a confirmed sign-up (issue 28): off by default, from a template,
with the newest issue's archive link and an unsubscribe link that works."""

from __future__ import annotations

import mailbox
import re
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.project import set_token_secret
from support.signupkit import text_of

from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue
from newsletter.site.app import create_app
from newsletter.tokens import make_stamp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"test-secret-for-welcome"


def configure(root: Path, monkeypatch: pytest.MonkeyPatch, extra: str) -> Config:
    path = root / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return set_token_secret(monkeypatch, load_config(path), SECRET)


def messages(config: Config) -> list[mailbox.MaildirMessage]:
    return sorted(mailbox.Maildir(str(config.outbox_dir), create=False), key=lambda m: m["Subject"])


def sign_up_and_confirm(config: Config, email: str, name: str = "") -> TestClient:
    client = TestClient(create_app(config))
    shown = make_stamp(SECRET, config.list_id, int(time.time()) - 10)
    client.post("/subscribe", data={"email": email, "name": name, "stamp": shown})
    assert client.app.state.site.mailer.wait_idle(30)
    [confirmation] = messages(config)
    link = re.search(r"https://example\.org/subscribe/confirm\?t=(\S+)", text_of(confirmation))
    assert link
    assert client.post(f"/subscribe/confirm?t={link.group(1)}").status_code == 200
    client.post(f"/subscribe/confirm?t={link.group(1)}")  # confirming twice welcomes once
    assert client.app.state.site.mailer.wait_idle(30)
    return client


def test_no_welcome_unless_configured(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch, 'subscribe: {url: "https://example.org/subscribe"}\n')
    sign_up_and_confirm(config, "quiet@example.org")
    assert [m["Subject"] for m in messages(config)] == ["Please confirm your subscription to Safeguarding digest"]


def test_welcome_links_the_latest_issue_and_unsubscribes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch, 'subscribe: {url: "https://example.org/subscribe", welcome: true}\n'
                                             'archive_url: "https://example.org/digest"\n')
    build_issue(config, parse_range("2023-07", None, None))
    client = sign_up_and_confirm(config, "wendy@example.org", name="Wendy")
    confirmation, welcome = messages(config)
    assert welcome["Subject"] == "Welcome to Safeguarding digest" and welcome["To"] == "wendy@example.org"
    text = text_of(welcome)
    assert text.startswith("Dear Wendy,")
    assert "https://example.org/digest/2023-07/" in text
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<https://example\.org/unsubscribe\?t=([^>]+)>", welcome["List-Unsubscribe"])
    assert unsubscribe and f"https://example.org/unsubscribe?t={unsubscribe.group(1)}" in text
    done = client.post(f"/unsubscribe?t={unsubscribe.group(1)}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text


def test_the_officers_template_wins(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure(project, monkeypatch, 'subscribe: {url: "https://example.org/subscribe", welcome: true}\n')
    (project / "templates" / "subscribe").mkdir(parents=True)
    (project / "templates" / "subscribe" / "welcome.txt").write_text(
        "Croeso, {{ name or 'friend' }}! Unsubscribe: {{ unsubscribe_url }}\n", encoding="utf-8")
    sign_up_and_confirm(config, "owen@example.org")
    welcome = messages(config)[1]
    assert text_of(welcome).startswith("Croeso, friend! Unsubscribe: https://example.org/")
