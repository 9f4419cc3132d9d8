"""In Debian's Chromium: a reader chooses topics from a real email's link and the next send
honours it; the officer previews the issue as a theme selection would get it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from support.browser import in_own_thread, local_page, record_traffic
from support.project import serve_asgi
from support.themekit import build, make_project, outbox, send, write_csv

from newsletter.site import create_app

pytestmark = pytest.mark.browser

PUBLIC = "https://example.org"  # where the links in the mail point; the test server stands in for it


def test_reader_picks_topics_on_the_page_and_the_next_issue_has_only_those(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, artifacts: Path, chromium: Browser) -> None:
    monkeypatch.delenv("NEWSLETTER_TOKEN_SECRET", raising=False)  # the outbox default: .newsletter-secret
    config = make_project(tmp_path / "digest", f'preferences_url: "{PUBLIC}/unsubscribe/preferences"\n')
    csv = write_csv(config.root, [("reader@example.org", ""), ("other@example.org", "")])
    in_own_thread(send, config, build(config, "2023-07"), csv)  # send runs its own asyncio loop
    [july] = outbox(config)["reader@example.org"]
    assert len(july.sections) == 6
    link = re.search(r"^Manage your topics: (\S+)$", july.text, re.MULTILINE)
    assert link, july.text
    html_link = re.search(r'<a href="([^"]+)"[^>]*>Manage your topics</a>', july.html)
    assert html_link and html_link.group(1).replace("&amp;", "&") == link.group(1)

    with serve_asgi(create_app(config)) as base, local_page(chromium) as page:
        requests, console = record_traffic(page)

        page.goto(link.group(1).replace(PUBLIC, base))
        expect(page.get_by_role("heading", level=1)).to_have_text("Choose your topics")
        boxes = page.get_by_role("checkbox")
        assert boxes.count() == 6
        for theme in config.themes:
            expect(page.get_by_label(theme)).to_be_checked()

        for theme in ("Domestic abuse", "Child sexual exploitation", "Youth violence"):
            page.get_by_label(theme).uncheck()  # by clicking its label's box, as a reader would
        page.get_by_label("Information sharing").focus()
        page.keyboard.press("Space")  # and one from the keyboard
        expect(page.get_by_label("Information sharing")).not_to_be_checked()
        page.screenshot(path=str(artifacts / "preferences-form.png"), full_page=True)

        page.get_by_role("button", name="Save my topics").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your topics are saved")
        expect(page.get_by_role("listitem")).to_have_text(["Online safety", "Neglect"])
        page.screenshot(path=str(artifacts / "preferences-saved.png"), full_page=True)

        page.get_by_role("link", name="Change your topics").click()
        expect(page.get_by_label("Neglect")).to_be_checked()
        expect(page.get_by_label("Youth violence")).not_to_be_checked()
        assert page.context.cookies() == []
        assert all(url.startswith(base) or url == getattr(config.logo, "src", None) for url in requests), requests
        assert not [m for m in console if "Content Security Policy" in m], console

    in_own_thread(send, config, build(config, "2023-08"), csv)
    august = {to: [m for m in got if "August 2023" in m.subject] for to, got in outbox(config).items()}
    assert august["reader@example.org"][0].sections == ["ONLINE SAFETY", "NEGLECT"]
    assert len(august["other@example.org"][0].sections) == 4  # everything August has


def test_officer_previews_the_issue_as_a_theme_selection_sees_it(
        tmp_path: Path, artifacts: Path, chromium: Browser) -> None:
    from support.previewkit import running_preview

    from newsletter.daterange import parse_range
    from newsletter.preview import LiveBuild

    config = make_project(tmp_path / "digest")
    live = LiveBuild(config.path, parse_range("2023-07", None, None))
    live.rebuild()
    viewport = {"width": 1280, "height": 900}
    with running_preview(live, watch=False) as base, local_page(chromium, viewport=viewport) as page:
        page.goto(base + "/")
        frame = page.frame_locator("#email-frame")
        expect(frame.locator("h2[id^=theme-]")).to_have_count(6)
        page.get_by_text("As sent to subscribers who chose:").click()  # opens the <details>
        page.get_by_label("Online safety").check()
        page.get_by_label("Neglect").check()
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#chosen-themes")).to_have_text("Online safety, Neglect")
        expect(frame.locator("h2[id^=theme-]")).to_have_text(["Online safety", "Neglect"])
        expect(page.locator(".inbox .preheader")).to_contain_text("Online safety (2), Neglect (2)")
        page.get_by_role("link", name="Mobile").click()  # the other views keep the selection
        expect(page.frame_locator("#email-frame").locator("h2[id^=theme-]")).to_have_count(2)
        page.screenshot(path=str(artifacts / "preview-themes.png"), full_page=False)
