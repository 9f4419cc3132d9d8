"""The resolved audience on a bilingual list: a language chosen on the site (the sign-up
form, once confirmed, or the topics page) wins over the CSV's `language` column, so the
next send, its checks and the export all give that reader that version."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter import journal
from newsletter.audience import claim_mail, confirm, merged_rows, read_request, record_request, resolve
from newsletter.config import Config, load_config

CSV = "email,name,language\nanwen@example.org,Anwen,cy\nbob@example.org,Bob,\n"


def _bilingual(project: Path, languages: str = "[cy, en]") -> Config:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("language: en-GB\n",
                                                             f"language: en\nlanguages: {languages}\n"),
                    encoding="utf-8")
    (project / "subscribers.csv").write_text(CSV, encoding="utf-8")
    return load_config(path)


@pytest.fixture
def config(project: Path) -> Config:
    return _bilingual(project)


@pytest.fixture
def db(config: Config) -> Iterator[journal.Db]:
    with contextlib.closing(journal.connect(config.state)) as connection:
        yield connection


def _languages(config: Config, db: journal.Db) -> dict[str, str]:
    return {s.email: s.language for s in resolve(config, config.subscribers_file, db).mailed}


def test_the_csv_alone_decides_until_a_reader_chooses(config: Config, db: journal.Db) -> None:
    assert _languages(config, db) == {"anwen@example.org": "cy", "bob@example.org": ""}
    journal.set_language(db, "Anwen@Example.org", "en")
    journal.set_language(db, "bob@example.org", "CY")  # spelled as the config spells it
    audience = resolve(config, config.subscribers_file, db)
    assert {s.email: s.language for s in audience.mailed} == {"anwen@example.org": "en", "bob@example.org": "cy"}
    assert audience.languages_from_site == 2


def test_a_language_chosen_on_the_sign_up_form_is_the_sign_ups(config: Config, db: journal.Db) -> None:
    request = record_request(db, read_request(config, "ceri@example.org", "Ceri", [], "page", "cy"))
    assert claim_mail(db, request.id, hourly_cap=100).status == "claimed"
    journal.set_request_mail(db, request.id, "sent")
    assert _languages(config, db).get("ceri@example.org") is None  # not confirmed: not on the list
    assert confirm(db, request.email, request.nonce) is not None
    assert _languages(config, db)["ceri@example.org"] == "cy"


def test_a_language_no_longer_offered_falls_back_to_the_csv(project: Path) -> None:
    config = _bilingual(project)
    with contextlib.closing(journal.connect(config.state)) as db:
        journal.set_language(db, "anwen@example.org", "en")
        journal.set_language(db, "bob@example.org", "fr")  # offered once, say; not now
        assert _languages(config, db) == {"anwen@example.org": "en", "bob@example.org": ""}


def test_the_export_says_where_each_language_came_from(config: Config, db: journal.Db) -> None:
    journal.set_language(db, "bob@example.org", "cy")
    rows = {row.email: (row.language, row.language_from)
            for row in merged_rows(resolve(config, config.subscribers_file, db), config)}
    assert rows == {"anwen@example.org": ("cy", "list"), "bob@example.org": ("cy", "site")}


def test_with_one_language_the_form_stores_no_choice(project: Path) -> None:
    config = load_config(project / "newsletter.yaml")  # `language: en-GB` alone
    assert read_request(config, "dai@example.org", "", [], "page", "en-GB").language is None
