"""The unsubscribe pages in Debian's Chromium, against a real uvicorn server."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from support.browser import local_page, record_traffic
from support.project import serve_asgi
from support.signupkit import text_of

from newsletter import journal
from newsletter.config import Config
from newsletter.site import create_app
from newsletter.tokens import make_token

pytestmark = pytest.mark.browser

SECRET = "browser-test-secret"


def test_subscriber_unsubscribes_and_resubscribes_in_chromium(
    config: Config, monkeypatch: pytest.MonkeyPatch, artifacts: Path, chromium: Browser
) -> None:
    monkeypatch.setenv(config.secret_env, SECRET)
    email = "olivia@example.org"
    token = make_token(SECRET.encode(), config.list_id, email)
    db = journal.connect(config.state)
    app = create_app(config)
    with serve_asgi(app) as base, local_page(chromium) as page:
        requests, console = record_traffic(page)

        page.goto(f"{base}/unsubscribe?t={token}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe from Safeguarding digest?")
        expect(page.get_by_text(email)).to_be_visible()
        assert page.get_by_role("button").count() == 1
        assert not journal.is_suppressed(db, email), "opening the link must not unsubscribe"

        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("status")).to_have_text("You are unsubscribed")
        page.screenshot(path=str(artifacts / "unsubscribe-done.png"), full_page=True)
        assert journal.is_suppressed(db, email)
        [row] = journal.list_suppressions(db)
        assert (row.reason, row.source) == ("unsubscribed", "web")

        page.get_by_role("button", name="Resubscribe").click()  # double opt-in: a link is mailed
        expect(page.get_by_role("status")).to_have_text("Check your inbox")
        assert journal.is_suppressed(db, email)
        assert app.state.site.mailer.wait_idle(30)
        [message] = list(mailbox.Maildir(str(config.outbox_dir), create=False))
        link = re.search(r"https://example\.org/unsubscribe/confirm\?(t=\S+)", text_of(message))
        assert link
        page.goto(f"{base}/unsubscribe/confirm?{link.group(1)}")
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("status")).to_have_text("You are subscribed")
        assert not journal.is_suppressed(db, email)
        assert page.context.cookies() == []
        assert all(url.startswith(base) or url == getattr(config.logo, "src", None) for url in requests), requests
        assert not [m for m in console if "Content Security Policy" in m], console
