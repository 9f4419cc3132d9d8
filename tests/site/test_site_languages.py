"""Readers choose their language on the site (issue 31): the sign-up form and the topics
page offer the list's `languages`, the choice is stored and wins over the CSV, and every
page and mail a reader meets speaks it; `?lang=` switches a page for display only."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.project import set_token_secret
from support.signupkit import text_of
from support.smtpserver import SmtpServer

from newsletter import journal
from newsletter.audience import resolve
from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.site.app import create_app
from newsletter.tokens import make_stamp, make_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"test-secret-for-languages"
LINK_RE = re.compile(r"https://example\.org/subscribe/confirm\?t=(\S+)")
_SHOWN = [0]


def bilingual(root: Path, monkeypatch: pytest.MonkeyPatch, *, languages: str = "[cy, en]", smtp_port: int = 0,
              csv: str = "email,name,language\nanwen@example.org,Anwen,cy\nbob@example.org,Bob,\n") -> Config:
    """The sample newsletter in English and Welsh, with a sign-up page (welcome mail on)
    and a topics page; mails go to `smtp_port`'s server when given."""
    path = root / "newsletter.yaml"
    text = path.read_text(encoding="utf-8").replace("language: en-GB\n", f"language: en\nlanguages: {languages}\n")
    text += ('subscribe: {url: "https://example.org/subscribe", client_limit: 100, welcome: true}\n'
             'preferences_url: "https://example.org/unsubscribe/preferences"\n')
    if smtp_port:
        text += f'smtp: {{host: "127.0.0.1", port: {smtp_port}, security: none, retry_delay: 0.1}}\n'
    path.write_text(text, encoding="utf-8")
    (root / "subscribers.csv").write_text(csv, encoding="utf-8")
    return set_token_secret(monkeypatch, load_config(path), SECRET)


def stamp(config: Config) -> str:
    shown = int(time.time() - 10)
    _SHOWN[0] = shown = shown if not _SHOWN[0] or shown < _SHOWN[0] else _SHOWN[0] - 1
    return make_stamp(SECRET, config.list_id, shown)


def token(config: Config, email: str) -> str:
    return make_token(SECRET, config.list_id, email)


def heading(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.DOTALL)
    assert match, html
    return match.group(1)


def page_language(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', html)
    assert match, html
    return match.group(1)


def radios(html: str) -> list[tuple[str, bool, str]]:
    """The language choices of a page: (value, checked, label)."""
    found = re.findall(r'<input type="radio" id="([^"]+)" name="language" value="([^"]+)"( checked)?>\s*'
                       r'<label for="\1" lang="\2">([^<]+)</label>', html)
    return [(value, bool(checked), label) for _, value, checked, label in found]


def idle(client: TestClient) -> None:
    assert client.app.state.site.mailer.wait_idle(30)


@contextlib.contextmanager
def state(config: Config) -> Iterator[journal.Db]:
    with contextlib.closing(journal.connect(config.state)) as db:
        yield db


def languages_of(config: Config) -> dict[str, str]:
    """Who receives which language now, as `send` would resolve it."""
    with state(config) as db:
        audience = resolve(config, config.subscribers_file, db)
    return {s.email: s.language or config.language for s in audience.mailed}


# --- the sign-up page --------------------------------------------------------------------------

@pytest.mark.parametrize(("accept", "expected"), [
    (None, "en"),                                  # no header: the config's `language`
    ("cy-GB,cy;q=0.9,en;q=0.5", "cy"),             # a Welsh browser
    ("fr-FR, de;q=0.8, cy;q=0.3, en;q=0.1", "cy"),  # the best the list offers
    ("de, fr", "en"),                              # nothing offered: the config's
    ("en;q=0.2, cy;q=0.9", "cy"),                   # by quality, not by order
    ("x" * 5000, "en"),                            # junk, long: read bounded, ignored
])
def test_the_sign_up_page_offers_each_language_in_itself_by_the_browsers_choice(
        project: Path, monkeypatch: pytest.MonkeyPatch, accept: str | None, expected: str) -> None:
    client = TestClient(create_app(bilingual(project, monkeypatch)))
    page = client.get("/subscribe", headers={"Accept-Language": accept} if accept else {})
    assert page.status_code == 200
    assert radios(page.text) == [("cy", expected == "cy", "Cymraeg"), ("en", expected == "en", "English")]
    assert page_language(page.text) == expected
    assert heading(page.text) == {"cy": "Tanysgrifio i Safeguarding digest",
                                  "en": "Subscribe to Safeguarding digest"}[expected]


def test_a_lang_link_shows_the_page_in_that_language(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(create_app(bilingual(project, monkeypatch)))
    page = client.get("/subscribe?lang=cy", headers={"Accept-Language": "en"})
    assert page_language(page.text) == "cy" and radios(page.text)[0] == ("cy", True, "Cymraeg")
    links = re.findall(r'<a href="([^"]+)" lang="([^"]+)" hreflang="[^"]+">([^<]+)</a>', page.text)
    assert links == [("/subscribe?lang=en", "en", "English")]  # and Cymraeg shown as the current one
    unknown = client.get("/subscribe?lang=xx", headers={"Accept-Language": "cy"})
    assert unknown.status_code == 200 and page_language(unknown.text) == "cy"  # ignored, not an error


def test_signing_up_in_welsh_gives_welsh_mails_and_a_welsh_confirm_page(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpServer() as relay:
        config = bilingual(project, monkeypatch, smtp_port=relay.port)
        client = TestClient(create_app(config))
        answer = client.post("/subscribe", headers={"Accept-Language": "en"},
                             data={"email": "ceri@example.org", "name": "Ceri", "stamp": stamp(config),
                                   "language": "cy"})
        assert answer.status_code == 200 and page_language(answer.text) == "cy"
        assert heading(answer.text) == "Edrychwch yn eich mewnflwch"
        idle(client)
        [confirmation] = relay.handler.received("ceri@example.org")
        assert confirmation["Subject"] == "Cadarnhewch eich tanysgrifiad i Safeguarding digest"
        body = text_of(confirmation)
        assert "Please confirm" not in body and "The link works until" not in body
        link = LINK_RE.search(body)
        assert link
        path = f"/subscribe/confirm?t={link.group(1)}"

        shown = client.get(path, headers={"Accept-Language": "en"})
        assert page_language(shown.text) == "cy" and heading(shown.text) == "Cadarnhewch eich tanysgrifiad"
        english = client.get(f"{path}&lang=en")  # display only: nothing is stored by a GET
        assert heading(english.text) == "Confirm your subscription"
        assert languages_of(config).get("ceri@example.org") is None  # not on the list before confirming

        confirmed = client.post(path)
        assert confirmed.status_code == 200 and page_language(confirmed.text) == "cy"
        idle(client)
        [_, welcome] = relay.handler.received("ceri@example.org")
        assert welcome["Subject"] == "Croeso i Safeguarding digest"
        assert languages_of(config)["ceri@example.org"] == "cy"


def test_the_form_default_is_stored_when_the_reader_leaves_it(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Welsh browser sees Cymraeg ticked; posting the form as it is asks for Welsh."""
    with SmtpServer() as relay:
        config = bilingual(project, monkeypatch, smtp_port=relay.port)
        client = TestClient(create_app(config))
        form = client.get("/subscribe", headers={"Accept-Language": "cy"}).text
        [ticked] = [value for value, checked, _ in radios(form) if checked]
        client.post("/subscribe", data={"email": "dai@example.org", "stamp": stamp(config), "language": ticked})
        idle(client)
        [mail] = relay.handler.received("dai@example.org")
        assert mail["Subject"] == "Cadarnhewch eich tanysgrifiad i Safeguarding digest"


@pytest.mark.parametrize("language", ["fr", "xx", "cy\r\nBcc: x@example.org", "", ["cy", "en"], "c" * 4000])
def test_an_unknown_language_is_refused_and_nothing_is_stored(
        project: Path, monkeypatch: pytest.MonkeyPatch, language: str | list[str]) -> None:
    config = bilingual(project, monkeypatch)
    client = TestClient(create_app(config))
    answer = client.post("/subscribe", data={"email": "eve@example.org", "stamp": stamp(config), "language": language})
    assert answer.status_code == 400
    assert re.findall(r'<p class="problem"[^>]*>(.*?)</p>', answer.text) == ["Please choose one of the languages offered."]
    with state(config) as db:
        assert journal.requests_of(db, "eve@example.org") == []


# --- pages reached from an email ----------------------------------------------------------------

def _sent_to_the_list(config: Config) -> None:
    """A send of July 2023 through the embedded outbox, as the CLI does."""
    result = CliRunner().invoke(main, ["send", "2023-07", "--yes", "--config", str(config.path)])
    assert result.exit_code == 0, result.output


def test_pages_from_an_email_speak_the_readers_language_from_the_last_send(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = bilingual(project, monkeypatch)
    _sent_to_the_list(config)  # Anwen's `language` cell is cy, Bob's blank
    client = TestClient(create_app(config))
    anwen, bob = token(config, "anwen@example.org"), token(config, "bob@example.org")
    assert page_language(client.get(f"/unsubscribe?t={anwen}").text) == "cy"
    assert heading(client.get(f"/unsubscribe?t={anwen}").text) == "Dad-danysgrifio o Safeguarding digest?"
    assert page_language(client.get(f"/unsubscribe?t={bob}").text) == "en"
    topics = client.get(f"/unsubscribe/preferences?t={anwen}")
    assert page_language(topics.text) == "cy" and heading(topics.text) == "Dewiswch eich pynciau"
    assert radios(topics.text) == [("cy", True, "Cymraeg"), ("en", False, "English")]  # her current language
    shown = client.get(f"/unsubscribe?t={anwen}&lang=en")
    assert heading(shown.text) == "Unsubscribe from Safeguarding digest?"
    assert f'href="/unsubscribe?t={anwen}&amp;lang=cy"' in shown.text.replace("%3D", "=")
    one_click = client.post(f"/unsubscribe?t={anwen}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and heading(one_click.text) == "Rydych chi wedi dad-danysgrifio"


def test_changing_language_on_the_topics_page_gives_the_next_send_that_version(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = bilingual(project, monkeypatch)
    client = TestClient(create_app(config))
    bob = token(config, "bob@example.org")
    assert languages_of(config)["bob@example.org"] == "en"
    assert client.get(f"/unsubscribe/preferences?t={bob}&lang=cy").status_code == 200
    assert languages_of(config)["bob@example.org"] == "en"  # a GET, `?lang=` included, stores nothing

    saved = client.post(f"/unsubscribe/preferences?t={bob}&lang=en", data={"language": "cy"})
    assert saved.status_code == 200
    assert page_language(saved.text) == "cy" and "Mae eich iaith wedi’i chadw: Cymraeg." in saved.text
    assert radios(saved.text)[0] == ("cy", True, "Cymraeg")
    assert languages_of(config)["bob@example.org"] == "cy"  # over the CSV's blank cell
    assert page_language(client.get(f"/unsubscribe?t={bob}").text) == "cy"

    versions = CliRunner().invoke(main, ["check", "2023-07", "--format", "json", "--config", str(config.path)])
    assert "language: cy" in json.loads(versions.stdout)["versions"]
    exported = CliRunner().invoke(main, ["subscribers", "export", "--json", "--config", str(config.path)])
    rows = {row["email"]: row for row in json.loads(exported.stdout)["subscribers"]}
    assert (rows["bob@example.org"]["language"], rows["bob@example.org"]["language_from"]) == ("cy", "site")
    assert (rows["anwen@example.org"]["language"], rows["anwen@example.org"]["language_from"]) == ("cy", "list")

    refused = client.post(f"/unsubscribe/preferences?t={bob}", data={"language": "fr"})
    assert refused.status_code == 400 and "Dewiswch un o’r ieithoedd sydd ar gael." in refused.text
    assert languages_of(config)["bob@example.org"] == "cy"


# --- one language: nothing changes ------------------------------------------------------------

def test_with_one_language_there_is_no_choice_and_no_links(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = bilingual(project, monkeypatch, languages="[en]", csv="email,name\nbob@example.org,Bob\n")
    client = TestClient(create_app(config))
    bob = token(config, "bob@example.org")
    for path in ("/subscribe", f"/unsubscribe/preferences?t={bob}", f"/unsubscribe?t={bob}",
                 f"/unsubscribe?t={bob}&lang=cy"):
        html = client.get(path, headers={"Accept-Language": "cy"}).text
        assert page_language(html) == "en" and radios(html) == [] and "hreflang" not in html, path
    refused = client.post(f"/unsubscribe/preferences?t={bob}", data={"language": "en"})
    assert refused.status_code == 400  # nothing to choose: nothing stored
    with state(config) as db:
        assert journal.get_language(db, "bob@example.org") is None


def test_welsh_pages_are_welsh_throughout(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No English chrome left on a Welsh topics page (its words all come from the catalogue)."""
    config = bilingual(project, monkeypatch)
    html = TestClient(create_app(config)).get(
        f"/unsubscribe/preferences?t={token(config, 'bob@example.org')}&lang=cy").text
    for english in ("Choose your topics", "Topics", "Save my topics", "Language", "Save my language", "Unsubscribe"):
        assert f">{english}<" not in html, english
    assert ">Iaith<" in html and ">Cadw fy iaith<" in html


def test_the_pasted_form_offers_the_languages_too(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.site import render_snippet

    html = render_snippet(bilingual(project, monkeypatch))
    assert radios(html) == [("cy", False, "Cymraeg"), ("en", True, "English")]  # static: the config's ticked
