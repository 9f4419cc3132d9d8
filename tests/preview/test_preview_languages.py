"""The preview of a bilingual newsletter (`languages: [cy, en]`, issue 31): a language
selector beside the topics, each language's version (HTML, text, subject, headers) with its
checks, the choice kept across views, test sends and live rebuilds."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from starlette.testclient import TestClient
from support.bilingualkit import WELSH_ITEM, WELSH_ITEM_FILE, bilingual_project
from support.browser import local_page
from support.previewkit import live_build, running_preview

from newsletter.preview import LiveBuild, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASE = "http://127.0.0.1:8000"
WELSH_TITLE = "Rhwystrau i rannu gwybodaeth rhwng asiantaethau"
ENGLISH_TITLE = "Barriers to sharing information between agencies"
WELSH_SUBJECT = "Safeguarding digest: beth sy'n newydd yn Gorffennaf 2023"


@pytest.fixture
def live(tmp_path: Path) -> LiveBuild:
    bilingual_project(tmp_path / "digest")
    return live_build(tmp_path / "digest")


@pytest.fixture
def client(live: LiveBuild) -> Iterator[TestClient]:
    with TestClient(create_app(live, watch=False), base_url=BASE) as c:
        yield c


def _page(client: TestClient, query: str) -> str:
    reply = client.get(query)
    assert reply.status_code == 200, reply.text
    return html.unescape(reply.text)


def _subject(page: str) -> str:
    return re.search(r'class="subject">([^<]*)<', page).group(1)  # type: ignore[union-attr]


def test_the_selector_offers_each_language_and_starts_on_the_configs(client: TestClient) -> None:
    page = _page(client, "/")
    assert _subject(page) == "Safeguarding digest: what's new in July 2023"
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', page)
    assert options == [("cy", "", "Welsh (cy)"), ("", " selected", "English (en)")]
    # beside the topics selector, in the same row
    assert page.index('<form class="language"') < page.index('<form class="topics"')


def test_the_welsh_version_has_its_subject_greeting_dates_and_item_texts(client: TestClient) -> None:
    page = _page(client, "/?language=cy&tab=text")
    assert _subject(page) == WELSH_SUBJECT and f"<title>{WELSH_SUBJECT}" in page
    assert "Helo Sam," in page and "Gorffennaf 2023" in page and WELSH_TITLE.upper() not in page
    assert WELSH_TITLE in page and "Hello Sam," not in page
    assert re.search(r'<option value="cy" selected>Welsh \(cy\)</option>', page)
    email = client.get("/email.html?language=cy").text
    assert 'lang="cy"' in email and WELSH_TITLE in email and ENGLISH_TITLE not in email
    sample = client.get("/files/sample.eml?language=cy").text
    assert "Subject: =?utf-8?" in sample or f"Subject: {WELSH_SUBJECT}" in sample
    headers = _page(client, "/?language=cy&tab=headers")
    assert re.search(r"<th scope=\"row\">Subject</th><td>" + re.escape(WELSH_SUBJECT), headers)
    english = client.get("/email.html").text
    assert ENGLISH_TITLE in english and "Gorffennaf" not in english


def test_the_choice_is_kept_by_every_link_and_form_and_combines_with_topics(client: TestClient) -> None:
    raw = client.get("/?language=cy&themes=Information+sharing").text
    assert 'href="?view=mobile&amp;scheme=light&amp;tab=email&amp;themes=Information%20sharing&amp;language=cy"' in raw
    assert re.search(r'<iframe id="email-frame"[^>]*src="/email.html\?scheme=light&amp;v=[^"]*'
                     r'&amp;themes=Information%20sharing&amp;language=cy"', raw)
    assert 'href="/files/email.txt?themes=Information%20sharing&amp;language=cy"' in raw
    topics = re.search(r'<form class="topics".*?</form>', raw, re.DOTALL).group(0)  # type: ignore[union-attr]
    assert '<input type="hidden" name="language" value="cy">' in topics
    chooser = re.search(r'<form class="language".*?</form>', raw, re.DOTALL).group(0)  # type: ignore[union-attr]
    assert '<input type="hidden" name="themes" value="Information sharing">' in chooser
    text = client.get("/files/email.txt?language=cy&themes=Information+sharing").text
    assert re.findall(r"^== (.+) ==$", text, re.MULTILINE) == ["INFORMATION SHARING"]
    assert "Helo Sam," in text and WELSH_TITLE in text


@pytest.mark.parametrize("value", ["fr", "xx", "cy\r\nX: y", "c" * 500])
def test_a_language_the_config_does_not_offer_is_named(client: TestClient, value: str) -> None:
    reply = client.get("/", params={"language": value})
    assert reply.status_code == 400
    assert "this newsletter offers cy, en (`languages:` in the config)" in html.unescape(reply.text)
    assert "c" * 100 not in reply.text  # a long value is cut, not echoed whole
    assert client.get("/email.html", params={"language": value}).status_code == 400


def test_a_regional_tag_finds_its_language(client: TestClient) -> None:
    assert _subject(_page(client, "/?language=cy-GB")) == WELSH_SUBJECT


def test_each_language_version_shows_its_own_checks(client: TestClient, live: LiveBuild) -> None:
    item = live.config.root / WELSH_ITEM_FILE  # type: ignore[union-attr]
    item.write_text(WELSH_ITEM.replace(
        "  cy: Mae ymarferwyr yn petruso cyn rhannu gwybodaeth diogelu ag asiantaethau eraill.\n", ""),
        encoding="utf-8")
    live.rebuild()
    welsh = _page(client, "/?language=cy")
    checks = welsh[welsh.index('id="checks"'):welsh.index('id="approval"')]
    assert f"{WELSH_ITEM_FILE}:7" in checks  # the `summary:` line and "`summary` has no `cy` text" in checks
    assert "in the language: cy version" in checks
    english = _page(client, "/")
    assert "has no `cy` text" not in english[english.index('id="checks"'):]


def test_one_language_has_no_selector(tmp_path: Path) -> None:
    from support.project import copy_sample

    copy_sample(tmp_path / "digest")
    with TestClient(create_app(live_build(tmp_path / "digest"), watch=False), base_url=BASE) as client:
        page = client.get("/").text
        assert 'class="language"' not in page and "Switch language" not in page
        assert client.get("/?language=cy").status_code == 400


def test_send_test_sends_the_language_on_screen(client: TestClient) -> None:
    reply = client.post("/send-test", data={"address": "me@example.org", "language": "cy"}, headers={"Origin": BASE})
    assert reply.status_code == 200 and "language=cy" in str(reply.url)
    assert "Test sent to me@example.org" in reply.text
    listing = html.unescape(client.get("/outbox").text)
    assert f"[TEST] {WELSH_SUBJECT}" in listing
    key = re.search(r'href="/outbox/([^"]+)"', listing).group(1)  # type: ignore[union-attr]
    assert WELSH_TITLE in client.get(f"/outbox/{key}/html").text


@pytest.mark.browser
def test_the_officer_chooses_welsh_and_the_live_rebuild_keeps_it(live: LiveBuild, chromium: Browser,
                                                                   artifacts: Path) -> None:
    with running_preview(live) as base, local_page(chromium, viewport={"width": 1280, "height": 900}) as page:
        assert live.watching.wait(5)
        page.set_default_timeout(15_000)
        page.goto(base + "/")
        frame = page.frame_locator("#email-frame")
        expect(frame.locator("body")).to_contain_text("Hello Sam,")
        page.get_by_label("As sent to readers of").select_option(label="Welsh (cy)")  # submits on change
        expect(page.locator(".inbox .subject")).to_have_text(WELSH_SUBJECT)
        expect(frame.locator("body")).to_contain_text("Helo Sam,")
        expect(frame.locator("body")).to_contain_text("Gorffennaf 2023")
        expect(frame.locator("h3", has_text=WELSH_TITLE)).to_be_visible()
        page.screenshot(path=str(artifacts / "preview-language-cy.png"), full_page=False)
        page.get_by_role("link", name="Plain text").click()  # the other views keep the language
        expect(page.locator("#text-part")).to_contain_text("Helo Sam,")
        item = live.config.root / WELSH_ITEM_FILE  # type: ignore[union-attr]
        item.write_text(WELSH_ITEM.replace(WELSH_TITLE, "Rhannu gwybodaeth, y rhwystrau"), encoding="utf-8")
        expect(page.locator("#text-part")).to_contain_text("Rhannu gwybodaeth, y rhwystrau", timeout=15_000)
        expect(page.get_by_label("As sent to readers of")).to_have_value("cy")
        expect(page.locator(".inbox .subject")).to_have_text(WELSH_SUBJECT)
