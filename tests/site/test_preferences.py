"""The "Manage your topics" page on the unsubscribe server: form, save, bad tokens, send honours it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from support.project import set_token_secret
from support.themekit import build, make_project, outbox, send, write_csv

from newsletter import journal
from newsletter.config import Config, load_config
from newsletter.errors import NewsletterError
from newsletter.site.app import create_app
from newsletter.tokens import make_token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = b"test-secret-for-preference-links"
PREFS = 'preferences_url: "https://example.org/unsubscribe/preferences"\n'


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    return set_token_secret(monkeypatch, make_project(tmp_path / "digest", PREFS), SECRET)


@pytest.fixture
def client(site: Config) -> TestClient:
    return TestClient(create_app(site))


def token(config: Config, email: str, secret: bytes = SECRET) -> str:
    return make_token(secret, config.list_id, email)


def ticked(html: str) -> list[str]:
    """The themes whose checkbox is checked, in page order."""
    return re.findall(r'<input type="checkbox" id="theme-\d+" name="theme" value="([^"]+)" checked>', html)


def saved(config: Config, email: str) -> list[str] | None:
    db = journal.connect(config.state)
    try:
        return journal.get_preferences(db, email)
    finally:
        db.close()


def test_the_form_shows_every_theme_ticked_by_default_with_labels(client: TestClient, site: Config) -> None:
    response = client.get(f"/unsubscribe/preferences?t={token(site, 'ann@example.org')}")
    assert response.status_code == 200
    html = response.text
    assert ticked(html) == list(site.themes)
    for n, theme in enumerate(site.themes, 1):  # every box has its own label
        assert f'<label for="theme-{n}">{theme}</label>' in html
    assert "<legend>Topics</legend>" in html and 'lang="en-GB"' in html
    assert "ann@example.org" in html
    assert site.logo is not None
    assert re.findall(r'src="([^"]*)"', html) == [site.logo.src]  # nothing else loaded from elsewhere
    assert "style-src 'sha256-" in response.headers["content-security-policy"]
    assert "set-cookie" not in response.headers
    assert saved(site, "ann@example.org") is None  # GET never writes


def test_saving_stores_the_choice_and_the_form_shows_it_next_time(client: TestClient, site: Config) -> None:
    t = token(site, "Ann@Example.org")
    response = client.post("/unsubscribe/preferences", data={"t": t, "theme": ["neglect", "Online safety"]})
    assert response.status_code == 200
    assert "Your topics are saved" in response.text
    assert re.findall(r"<li>(.*?)</li>", response.text) == ["Online safety", "Neglect"]
    assert saved(site, "ann@example.org") == ["Online safety", "Neglect"]
    assert ticked(client.get(f"/unsubscribe/preferences?t={t}").text) == ["Online safety", "Neglect"]


def test_every_theme_ticked_means_everything_including_new_ones(client: TestClient, site: Config) -> None:
    t = token(site, "bo@example.org")
    client.post(f"/unsubscribe/preferences?t={t}", data={"theme": ["Neglect"]})
    response = client.post(f"/unsubscribe/preferences?t={t}", data={"theme": list(site.themes)})
    assert "every topic, including any we add later" in response.text
    assert saved(site, "bo@example.org") == []


def test_ticking_nothing_is_refused_and_points_to_unsubscribe(client: TestClient, site: Config) -> None:
    t = token(site, "cy@example.org")
    response = client.post(f"/unsubscribe/preferences?t={t}", data={"theme": ["Not a theme"]})
    assert response.status_code == 400
    assert 'role="alert">Tick at least one topic' in response.text
    assert f'href="/unsubscribe?t={t}">Unsubscribe</a>' in response.text
    assert saved(site, "cy@example.org") is None


@pytest.mark.parametrize("bad", ["", "nonsense", "YW5uQGV4YW1wbGUub3Jn.AAAAAAAAAAAAAAAAAAAAAA"])
def test_bad_tokens_get_the_servers_one_generic_page(client: TestClient, site: Config, bad: str) -> None:
    unsubscribe = client.get(f"/unsubscribe?t={bad}")
    page = client.get(f"/unsubscribe/preferences?t={bad}")
    post = client.post("/unsubscribe/preferences", data={"t": bad, "theme": ["Neglect"]})
    assert page.status_code == post.status_code == unsubscribe.status_code == 400
    assert page.text == post.text == unsubscribe.text
    assert journal.all_preferences(journal.connect(site.state)) == {}


def test_a_token_from_another_secret_is_refused(client: TestClient, site: Config) -> None:
    forged = token(site, "ann@example.org", secret=b"someone-elses-secret")
    assert client.post("/unsubscribe/preferences", data={"t": forged, "theme": ["Neglect"]}).status_code == 400
    assert saved(site, "ann@example.org") is None


def test_the_form_shows_what_the_last_send_used_from_the_csv(site: Config) -> None:
    send(site, build(site), write_csv(site.root, [("dee@example.org", "Youth violence|Neglect")]))
    client = TestClient(create_app(site))
    html = client.get(f"/unsubscribe/preferences?t={token(site, 'dee@example.org')}").text
    assert ticked(html) == ["Neglect", "Youth violence"]


def test_an_unsubscribed_reader_is_told_saving_does_not_resubscribe(client: TestClient, site: Config) -> None:
    t = token(site, "gone@example.org")
    client.post(f"/unsubscribe?t={t}", data={"List-Unsubscribe": "One-Click"})
    html = client.get(f"/unsubscribe/preferences?t={t}").text
    assert "You are unsubscribed" in html and f'href="/unsubscribe?t={t}">subscribe again</a>' in html


def test_markup_in_theme_names_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path / "odd", PREFS)
    path = tmp_path / "odd" / "newsletter.yaml"
    path.write_text(re.sub(r"^themes:\n(  - .*\n)+", 'themes: ["<b>Bold</b> & co", Neglect]\n',
                           path.read_text(), flags=re.MULTILINE))
    config = load_config(path)
    monkeypatch.setenv(config.secret_env, SECRET.decode())
    html = TestClient(create_app(config)).get(f"/unsubscribe/preferences?t={token(config, 'a@example.org')}").text
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in html


def test_no_page_without_preferences_url(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.secret_env, SECRET.decode())
    client = TestClient(create_app(config))
    assert client.get(f"/unsubscribe/preferences?t={token(config, 'a@example.org')}").status_code == 404


def test_preferences_url_is_checked_in_the_config(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    make_project(root)
    text = (root / "newsletter.yaml").read_text()
    for value, message in [("ftp://example.org/prefs", "not a web address"),
                           ("https://example.org/unsubscribe/", "another path than unsubscribe.url"),
                           ("https://example.org/prefs#x", "#fragment")]:
        (root / "newsletter.yaml").write_text(text + f'preferences_url: "{value}"\n')
        with pytest.raises(NewsletterError, match=message):
            load_config(root / "newsletter.yaml")


def test_a_choice_saved_on_the_page_overrides_the_csv_in_the_next_send(client: TestClient, site: Config) -> None:
    csv = write_csv(site.root, [("eve@example.org", "Neglect"), ("fay@example.org", "")])
    client.post("/unsubscribe/preferences", data={"t": token(site, "eve@example.org"), "theme": ["Youth violence"]})
    client.post("/unsubscribe/preferences", data={"t": token(site, "fay@example.org"), "theme": ["Online safety"]})
    send(site, build(site), csv)
    received = outbox(site)
    assert received["eve@example.org"][0].sections == ["YOUTH VIOLENCE"]
    assert received["fay@example.org"][0].sections == ["ONLINE SAFETY"]
    # and the email links back to the page with the reader's own token
    text = received["eve@example.org"][0].text
    assert f"Manage your topics: https://example.org/unsubscribe/preferences?t={token(site, 'eve@example.org')}" in text


def test_the_unsubscribe_page_offers_choosing_topics_instead(client: TestClient, site: Config,
                                                             tmp_path: Path) -> None:
    t = token(site, "hal@example.org")
    assert f'<a href="/unsubscribe/preferences?t={t}">Choose your topics</a> instead' in client.get(
        f"/unsubscribe?t={t}").text
    plain = make_project(tmp_path / "plain")  # no preferences_url: no offer
    page = TestClient(create_app(plain)).get(f"/unsubscribe?t={token(plain, 'hal@example.org')}")
    assert page.status_code == 200 and "Choose your topics" not in page.text
