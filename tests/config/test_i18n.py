"""The reader's language: every shipped catalogue complete, Babel's dates in each language,
and a French or Welsh newsletter with no English chrome left in the issue or the pages."""

from __future__ import annotations

import datetime as dt
import email
import fnmatch
import re
import shutil
import tomllib
from email import policy
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from support.themekit import REPO, make_project

from newsletter.config import Config, load_config
from newsletter.config.i18n import LOCALE_DIR, SHIPPED, format_day, format_period, format_span, translations
from newsletter.daterange import DateRange
from newsletter.errors import NewsletterError
from newsletter.issue import build_issue
from newsletter.send import Confirmation, Welcome, compose_confirmation, compose_welcome

JULY = DateRange(dt.date(2023, 7, 1), dt.date(2023, 7, 31))
ENGLISH_CHROME = ("Unsubscribe", "In this issue", "Hello", "Dear", "View it in your browser", "Read the full issue",
                  "Manage your topics", "Privacy notice", "See also", "You receive")
ENGLISH_MONTHS = ("January", "February", "March", "April", "June", "July", "August", "September", "October",
                  "November", "December")


def extracted() -> dict[str | tuple[str, ...], int]:
    """Every message the code and templates mark, as `pybabel extract -F babel.cfg` finds them."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found: dict[str | tuple[str, ...], int] = {}
    for _path, line, message, _comments, _context in extract_from_dir(REPO, method_map, options_map):
        key = message if isinstance(message, str) else tuple(m for m in message if m)
        found[key if not isinstance(key, tuple) or len(key) > 1 else key[0]] = line
    return found


@pytest.fixture(scope="module")
def messages() -> dict[str | tuple[str, ...], int]:
    return extracted()


def test_the_template_catalogue_is_current(messages: dict[str | tuple[str, ...], int]) -> None:
    with (LOCALE_DIR / "newsletter.pot").open("rb") as file:
        pot = {m.id for m in read_po(file) if m.id}
    assert len(messages) > 90
    assert pot == set(messages), "run the `pybabel extract` command in docs/guides/languages.md"


@pytest.mark.parametrize("language", SHIPPED)
def test_every_shipped_catalogue_is_complete(language: str, messages: dict[str | tuple[str, ...], int]) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "newsletter.po").open("rb") as file:
        catalog = read_po(file, locale=language)
    problems = []
    for msgid in messages:
        message = catalog.get(msgid)
        strings = [] if message is None else [message.string] if isinstance(message.string, str) else message.string
        if message is None or message.fuzzy or not strings or not all(s and s.strip() for s in strings):
            problems.append(msgid)
        elif isinstance(message.string, tuple) and len(message.string) != catalog.num_plurals:
            problems.append(msgid)
    assert problems == [], f"{language}: untranslated or fuzzy"
    checked = [(m.id, errors) for m, errors in catalog.check() if errors]
    assert checked == []  # every placeholder of the msgid in the translation, and no other


def test_the_catalogues_ship_in_the_package() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    package = REPO / "newsletter"
    files = [p.relative_to(package).as_posix() for p in LOCALE_DIR.rglob("*") if p.is_file()]
    assert len(files) == len(SHIPPED) + 1
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns["newsletter"]), name


@pytest.mark.parametrize(("language", "month", "span", "day"), [
    ("en", "July 2023", "1–31 July 2023", "3 July 2023"),
    ("en-US", "July 2023", "July 1–31, 2023", "July 3, 2023"),
    ("fr", "juillet 2023", "1–31 juillet 2023", "3 juillet 2023"),
    ("de", "Juli 2023", "1.–31. Juli 2023", "3. Juli 2023"),
    ("es", "julio de 2023", "1 de julio de 2023 – 31 de julio de 2023", "3 de julio de 2023"),
    ("cy", "Gorffennaf 2023", "1–31 Gorffennaf 2023", "3 Gorffennaf 2023"),
])
def test_dates_read_as_the_language_writes_them(language: str, month: str, span: str, day: str) -> None:
    assert format_period(JULY, language) == month
    assert format_span(JULY, language) == span
    assert format_day(dt.date(2023, 7, 3), language) == day


def test_a_range_across_months_names_both() -> None:
    period = DateRange(dt.date(2023, 6, 15), dt.date(2023, 7, 14))
    assert format_period(period, "en") == "15 June – 14 July 2023"
    assert format_period(period, "fr-FR") == "15 juin – 14 juillet 2023"


def test_plurals_follow_the_language() -> None:
    welsh = translations("cy")
    assert welsh.ngettext("%(count)s item", "%(count)s items", 2) % {"count": 2} == "2 eitem"
    french = translations("fr")
    assert french.ngettext("%(count)s item", "%(count)s items", 0) % {"count": 0} == "0 article"  # French: 0 is singular
    assert french.ngettext("%(count)s item", "%(count)s items", 2) % {"count": 2} == "2 articles"


def _localised(tmp_path: Path, language: str) -> Config:
    """The sample in `language`, its own words (intro, footer, subject) given per language."""
    root = tmp_path / language
    root.mkdir()
    shutil.copytree(REPO / "items", root / "items")
    for item in (root / "items").glob("*.yaml"):  # the sample's own prose names months: not chrome
        item.write_text(re.sub(rf"\b({'|'.join(ENGLISH_MONTHS)})\b ?", "", item.read_text(encoding="utf-8")),
                        encoding="utf-8")
    text = (REPO / "newsletter.yaml").read_text(encoding="utf-8")
    for key in ("language", "intro", "footer", "subject", "organisation"):  # each with its indented lines
        text, count = re.subn(rf"^{key}:.*\n(?:[ \t]+.*\n)*", "", text, count=1, flags=re.M)
        assert count == 1, key
    (root / "newsletter.yaml").write_text(text + (
        f"language: {language}\n"
        "intro: {en: Our round-up., fr: Notre sélection du mois., cy: \"Ein crynodeb o'r mis.\"}\n"
        "footer: {en: Chosen by our team., fr: Choisis par notre équipe., cy: \"Wedi'u dewis gan ein tîm.\"}\n"
        'subject: {en: "{name}: {period}", fr: "{name} : {period}", cy: "{name}: {period}"}\n'
        'preferences_url: "https://example.org/unsubscribe/preferences"\n'
        'subscribe: {url: "https://example.org/subscribe"}\n'
        "organisation: {name: Example Trust, contact: 'https://example.org/contact', "
        "privacy_url: 'https://example.org/privacy'}\n"), encoding="utf-8")
    return load_config(root / "newsletter.yaml")


def _english_left(text: str) -> list[str]:
    return [word for word in (*ENGLISH_CHROME, *ENGLISH_MONTHS) if re.search(rf"\b{word}\b", text)]


@pytest.mark.parametrize(("language", "month"), [("fr", "juillet 2023"), ("cy", "Gorffennaf 2023")])
def test_the_sample_issue_has_no_english_chrome(tmp_path: Path, language: str, month: str) -> None:
    config = _localised(tmp_path, language)
    result = build_issue(config, JULY, write=True)
    folder = config.issues_dir / JULY.slug
    html = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    subject = result.rendered.subject
    assert month in subject and month in html and month in text
    assert f'<html lang="{language}"' in html
    for part in (html, text, subject, result.rendered.preheader):
        assert _english_left(part) == []
    greeting = {"fr": "Bonjour Sam,", "cy": "Helo Sam,"}[language]
    assert greeting in html and greeting in text
    assert {"fr": "Notre sélection du mois.", "cy": "Ein crynodeb o"}[language] in html


def test_the_subscriber_pages_speak_the_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient
    from support.project import set_token_secret

    from newsletter.site import create_app
    from newsletter.tokens import make_token

    config = set_token_secret(monkeypatch, _localised(tmp_path, "fr"), b"a-secret-for-the-language-test")
    client = TestClient(create_app(config))
    token = make_token(b"a-secret-for-the-language-test", config.list_id, "ann@example.org")
    pages = {
        "sign-up": client.get("/subscribe").text,
        "unsubscribe": client.get(f"/unsubscribe?t={token}").text,
        "topics": client.get(f"/unsubscribe/preferences?t={token}").text,
        "bad link": client.get("/unsubscribe?t=nonsense").text,
        "unsubscribed": client.post("/unsubscribe", data={"t": token, "action": "unsubscribe"}).text,
    }
    for name, page in pages.items():
        visible = re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
        assert _english_left(visible) == [], name
        assert '<html lang="fr">' in page
    assert "S’inscrire à Safeguarding digest" in pages["sign-up"]
    assert "Je souhaite recevoir Safeguarding digest par e-mail." in pages["sign-up"]  # the default consent too
    assert "Choisissez vos thèmes" in pages["topics"]


def test_the_confirmation_mail_speaks_the_language(tmp_path: Path) -> None:
    config = _localised(tmp_path, "cy")
    raw = compose_confirmation(config, Confirmation("ann@example.org", "https://example.org/subscribe/confirm?t=x",
                                                    dt.datetime(2026, 7, 8)))
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert str(message["Subject"]) == "Cadarnhewch eich tanysgrifiad i Safeguarding digest"
    assert "8 Gorffennaf 2026" in text and "8 Gorffennaf 2026" in html
    assert _english_left(text) == [] and "Cadarnhewch eich tanysgrifiad" in html


def test_the_officers_texts_per_language(tmp_path: Path) -> None:
    config = _localised(tmp_path, "cy")
    assert config.intro == "Ein crynodeb o'r mis."
    english = config.in_language("en-GB")
    assert (english.language, english.intro, english.footer) == ("en-GB", "Our round-up.", "Chosen by our team.")
    assert english.subscribe and "I would like to receive Safeguarding digest" in english.subscribe.consent
    assert config.subscribe and config.subscribe.consent.startswith("Hoffwn gael Safeguarding digest")


def test_a_text_missing_the_configs_language_is_an_error_at_its_line(tmp_path: Path) -> None:
    config = _localised(tmp_path, "cy")
    with config.path.open("a", encoding="utf-8") as file:
        file.write("quiet_month: {en: Nothing new., fr: Rien de neuf.}\npreheader: {cy: Helo., xx-nonsense-tag: Hm.}\n")
    with pytest.raises(NewsletterError) as caught:
        load_config(config.path)
    lines = config.path.read_text(encoding="utf-8").splitlines()
    text = str(caught.value)
    quiet = next(n for n, line in enumerate(lines, 1) if line.startswith("quiet_month:"))
    assert f"newsletter.yaml:{quiet}: quiet_month: no text in 'cy'" in text
    assert "not a language tag Babel knows: 'xx-nonsense-tag'" in text


def test_an_unknown_language_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError, match="language: not a language tag Babel knows: 'klingon'"):
        make_project(tmp_path / "digest", replace={"language": "language: klingon"})


def test_the_officers_own_catalogue_rewords_one_sentence(tmp_path: Path) -> None:
    config = _localised(tmp_path, "fr")
    own = config.root / "locale" / "fr" / "LC_MESSAGES"
    own.mkdir(parents=True)
    (own / "newsletter.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "In this issue"\nmsgstr "Au sommaire"\n', encoding="utf-8")
    config = load_config(config.path)
    words = translations(config.language, config.locale_dir)
    assert words.gettext("In this issue") == "Au sommaire"
    assert words.gettext("Privacy notice") == "Politique de confidentialité"  # the rest from the shipped catalogue


def test_the_welcome_mail_speaks_the_language(tmp_path: Path) -> None:
    config = _localised(tmp_path, "fr")
    raw = compose_welcome(config, Welcome("ann@example.org", "Ann", "a-token"))
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert str(message["Subject"]) == "Bienvenue dans Safeguarding digest"
    assert text.startswith("Bonjour Ann,") and "Bonjour Ann," in html
    for part in (text, re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S)):
        assert _english_left(part) == [] and "Welcome" not in part


def test_the_archive_speaks_the_language(tmp_path: Path) -> None:
    from newsletter.archive import build_archive

    config = _localised(tmp_path, "fr")
    build_issue(config, JULY, write=True)
    build_archive(config, config.root / "site")
    index = (config.root / "site" / "index.html").read_text(encoding="utf-8")
    issue = (config.root / "site" / JULY.slug / "index.html").read_text(encoding="utf-8")
    assert '<html lang="fr"' in index and "Tous les numéros" in index and "juillet 2023" in issue
    assert 'data-found1="{n} article trouvé"' in index and 'data-found2="{n} articles trouvés"' in index
    for page in (index, issue):
        visible = re.sub(r"<style.*?</style>|<script.*?</script>|<[^>]+>", " ", page, flags=re.S)
        assert _english_left(visible) == []
