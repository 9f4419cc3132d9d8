"""`newsletter person show|forget` (issue 28): everything held about one address, and an
erasure after which it is never mailed again, even when a CSV lists it anew."""

from __future__ import annotations

import json
import logging
import mailbox
from email.utils import parseaddr

import pytest
from click.testing import CliRunner
from support.project import set_token_secret

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config
from newsletter.journal import TABLES

SECRET = b"test-secret-for-person"
PERSON = "amira.khan@example.org"  # in the sample subscribers.csv


def run(config: Config, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    return result.output


def outbox_to(config: Config) -> list[str]:
    if not config.outbox_dir.exists():
        return []
    return [parseaddr(m["To"])[1].lower() for m in mailbox.Maildir(str(config.outbox_dir), create=False)]


def dump(config: Config) -> str:
    """Every row of every table of the state (SQLite or PostgreSQL), as text, lower-cased."""
    db = journal.connect(config.state)
    try:
        return "\n".join(str(tuple(row)) for table in TABLES for row in db.execute(f"SELECT * FROM {table}")).lower()
    finally:
        db.close()


@pytest.fixture
def site(backend: str, config: Config, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The sample project on each engine (`backend` first: the config then reads its state)."""
    set_token_secret(monkeypatch, config, SECRET)
    run(config, "send", "2023-07", "--yes")  # a send to the sample list, the person included
    db = journal.connect(config.state)
    request = journal.add_request(db, email=PERSON, mailbox=PERSON, name="Amira", themes=("Neglect",),
                                  source="page", consent="Yes please")
    journal.set_request_mail(db, request.id, "sent")
    journal.confirm_request(db, PERSON, request.nonce)
    journal.set_preferences(db, PERSON, ["Neglect"])
    journal.record_bounce(db, journal.Bounce(key="bounce-1", email=PERSON, kind="soft", status="4.2.2",
                                             diagnostic=f"mailbox full <{PERSON}>",
                                             received="2023-07-02T10:00:00+00:00"))
    journal.suppress(db, PERSON, "unsubscribed", "one-click")
    journal.record_consent_event(db, PERSON, "unsubscribed", source="one-click")
    db.close()
    return config


def test_show_lists_everything_held(site: Config) -> None:
    data = json.loads(run(site, "person", "show", PERSON.upper(), "--json"))
    assert data["email"] == PERSON and data["erased"] is False
    assert [row["line"] for row in data["subscriber_csv"]] == [2]
    assert data["signups"][0]["consent"] == "Yes please"
    assert [r["source"] for r in data["signup_requests"]] == ["page"]
    assert [e["event"] for e in data["consent_events"]] == ["confirmed", "unsubscribed"]
    assert data["preferences"][0]["themes"] == "Neglect"
    assert [r["issue"] for r in data["recipients"]] == ["2023-07"] and data["recipients"][0]["state"] == "sent"
    assert data["bounces"][0]["kind"] == "soft"
    assert data["suppressions"][0]["reason"] == "unsubscribed"
    text = run(site, "person", "show", PERSON)
    assert text.startswith(f"{PERSON}: 9 records held")
    assert "Consent history (confirmations, unsubscribes):" in text and "event=confirmed" in text


def test_forget_erases_every_row_and_the_address_is_never_mailed_again(
        site: Config, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="newsletter.person"):
        result = CliRunner().invoke(main, ["person", "forget", PERSON, "--yes", "--config", str(site.path)])
    assert result.exit_code == 0, result.output
    assert "Erased: 8 rows deleted; kept only its keyed hash" in result.output
    assert "subscribers.csv:2: still lists the address" in result.output
    assert "erased one address (erased:" in caplog.text and PERSON not in caplog.text
    held = dump(site)
    assert PERSON not in held and "amira" not in held
    db = journal.connect(site.state)
    [kept] = [s for s in journal.list_suppressions(db) if s.reason == "erased"]
    assert kept.key.startswith("erased:")
    shown = json.loads(run(site, "person", "show", PERSON, "--json"))
    assert shown["erased"] is True and all(not shown[t] for t in journal.ADDRESS_COLUMNS)

    # the CSV still lists them (a re-import from the CRM): the dry run says so, the send skips them
    dry = run(site, "send", "2023-08", "--dry-run")
    assert "excluded: 1 erased" in dry
    before = outbox_to(site).count(PERSON)
    run(site, "send", "2023-08", "--yes")
    assert outbox_to(site).count(PERSON) == before == 1
    assert PERSON not in dump(site)


def test_forget_asks_first_and_refuses_a_non_address(site: Config) -> None:
    refused = CliRunner().invoke(main, ["person", "forget", PERSON, "--config", str(site.path)], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert journal.get_signup(journal.connect(site.state), PERSON) is not None
    bad = CliRunner().invoke(main, ["person", "show", "not-an-address", "--config", str(site.path)])
    assert bad.exit_code == 1 and bad.output.startswith("error: ") and "Traceback" not in bad.output
