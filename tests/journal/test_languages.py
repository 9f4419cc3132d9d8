"""Readers' languages in the state (migration 6), on SQLite and on PostgreSQL: chosen on the
topics page, asked for on the sign-up form (kept once confirmed), planned by a send, and
forgotten with the person."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsletter import journal

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def db(tmp_path: Path, backend: str) -> Iterator[journal.Db]:
    connection = journal.connect(journal.parse_state(os.environ.get("NEWSLETTER_STATE") or tmp_path / "state.db"))
    yield connection
    connection.close()


def _confirmed(db: journal.Db, email: str, language: str | None) -> journal.PendingRequest:
    request = journal.add_request(db, email=email, mailbox=email.lower(), name="", themes=None, source="page",
                                  consent="Yes please", language=language)
    journal.set_request_mail(db, request.id, "sent")
    return request


def test_a_choice_on_the_topics_page_is_kept_and_the_newest_wins(db: journal.Db) -> None:
    assert journal.schema_version(db) == journal.LATEST >= 6
    assert journal.get_language(db, "bob@example.org") is None
    journal.set_language(db, "Bob@Example.org", "cy")
    journal.set_language(db, "bob@example.org", "en")
    journal.set_language(db, "ann@example.org", "cy")
    assert journal.get_language(db, "BOB@example.org") == "en"
    assert journal.all_languages(db) == {"bob@example.org": "en", "ann@example.org": "cy"}


def test_the_sign_up_language_counts_only_once_confirmed(db: journal.Db) -> None:
    request = _confirmed(db, "ceri@example.org", "cy")
    assert journal.get_request(db, request.id).language == "cy"  # type: ignore[union-attr]
    assert journal.get_language(db, "ceri@example.org") is None  # a request is nobody's choice yet
    assert journal.confirm_request(db, "ceri@example.org", request.nonce) is not None
    assert journal.get_language(db, "ceri@example.org") == "cy"
    journal.set_language(db, "ceri@example.org", "en")  # changed on the topics page later
    again = journal.confirm_request(db, "ceri@example.org", request.nonce)
    assert again is not None and again[1] is False  # confirming again changes nothing
    assert journal.get_language(db, "ceri@example.org") == "en"


def test_a_sign_up_without_a_choice_sets_no_language(db: journal.Db) -> None:
    request = _confirmed(db, "dai@example.org", None)
    assert journal.confirm_request(db, "dai@example.org", request.nonce) is not None
    assert journal.get_language(db, "dai@example.org") is None and journal.all_languages(db) == {}


def test_a_send_records_the_language_it_planned_per_recipient(db: journal.Db) -> None:
    run = journal.open_run(db, "2023-07", subject="July", digest="d1", subscribers="subscribers.csv")
    journal.apply_plan(db, run.id, new=[
        journal.NewRecipient("anwen@example.org", "anwen@example.org", "Anwen", None, journal.RecipientState.PENDING,
                             "", "<1@example.org>", "cy"),
        journal.NewRecipient("bob@example.org", "bob@example.org", "Bob", None, journal.RecipientState.PENDING,
                             "", "<2@example.org>")], wanted=[], skip=[])
    assert journal.latest_recipient_language(db, "Anwen@example.org") == "cy"
    assert journal.latest_recipient_language(db, "bob@example.org") is None  # the config's
    assert journal.latest_recipient_language(db, "nobody@example.org") is None


def test_forgetting_a_person_forgets_their_language(db: journal.Db) -> None:
    journal.set_language(db, "eve@example.org", "cy")
    assert journal.person_records(db, "eve@example.org")["language_choices"][0]["language"] == "cy"
    removed = journal.forget_address(db, "eve@example.org", "erased-hash")
    assert removed["language_choices"] == 1 and journal.get_language(db, "eve@example.org") is None
