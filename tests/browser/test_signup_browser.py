"""The sign-up page in Debian's Chromium: sign up, confirm from the outbox, be in the next send."""

from __future__ import annotations

import mailbox
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from playwright.sync_api import Browser, expect
from support.browser import in_own_thread, local_page, record_traffic
from support.project import serve_asgi, set_token_secret

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.site import create_app

pytestmark = pytest.mark.browser

SECRET = b"browser-sign-up-secret"


def wait_for_mail(folder: Path) -> mailbox.MaildirMessage:
    """The one message in the outbox; the server mails it just after answering the page."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if folder.exists():
            messages = list(mailbox.Maildir(str(folder), create=False))
            if messages:
                [message] = messages
                return message
        time.sleep(0.05)
    raise AssertionError("no confirmation mail in the outbox")


def dry_run(config: Config) -> Result:
    return CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(config.path)])


def test_visitor_signs_up_confirms_from_the_mail_and_is_in_the_next_send(
    project: Path, monkeypatch: pytest.MonkeyPatch, artifacts: Path, chromium: Browser
) -> None:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8")
                    + 'subscribe: {url: "https://example.org/subscribe", min_seconds: 1}\n', encoding="utf-8")
    config = set_token_secret(monkeypatch, load_config(path), SECRET)
    email = "vera@example.org"
    before = in_own_thread(dry_run, config)
    assert before.exit_code == 0, before.output
    assert "Sign-ups: 0 confirmed" in before.output
    to_send = int(re.search(r"To send: (\d+)", before.output).group(1))
    db = journal.connect(config.state)
    with serve_asgi(create_app(config)) as base, local_page(chromium) as page:
        requests, console = record_traffic(page)
        page.goto(f"{base}/subscribe")
        expect(page.get_by_role("heading", level=1)).to_have_text("Subscribe to Safeguarding digest")
        expect(page.locator("#signup-website")).not_to_be_in_viewport()  # the honeypot stays out of sight
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Name (optional)").fill("Vera Stone")
        page.get_by_label("Online safety").check()
        page.screenshot(path=str(artifacts / "signup-form.png"), full_page=True)
        time.sleep(1.1)  # a person takes longer than `min_seconds` to fill the form
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("status")).to_have_text("Check your inbox")

        message = wait_for_mail(config.outbox_dir)
        assert message["To"] == email
        plain = next(part for part in message.walk() if part.get_content_type() == "text/plain")
        link = re.search(r"https://example\.org(/subscribe/confirm\?t=\S+)", plain.get_payload()).group(1)
        page.goto(base + link)  # the link as mailed, on this test's server
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
        assert journal.confirmed_signups(db) == [], "opening the link must not confirm"
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("status")).to_have_text("You are subscribed")
        page.screenshot(path=str(artifacts / "signup-confirmed.png"), full_page=True)
        assert page.context.cookies() == []
        assert all(url.startswith(base) or url == getattr(config.logo, "src", None) for url in requests), requests
        assert not [m for m in console if "Content Security Policy" in m], console

    [signup] = journal.confirmed_signups(db)
    assert (signup.email, signup.name, signup.themes, signup.source) == (email, "Vera Stone", ("Online safety",), "page")
    after = in_own_thread(dry_run, config)
    assert after.exit_code == 0, after.output
    assert "Sign-ups: 1 confirmed on the sign-up page" in after.output
    assert f"To send: {to_send + 1}" in after.output
