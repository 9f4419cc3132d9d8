"""Every language in one email (`language_layout: stacked`, issue 31), sent through a real
SMTP server with a real SQLite state: one message per reader, whatever their `language`
cell, Welsh first; test sends and dry runs make the same email."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.languagekit import SUBJECT, stacked_project
from support.sendkit import send, smtp_block
from support.smtpserver import SmtpServer

from newsletter.cli import main
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

pytestmark = pytest.mark.usefixtures("token_secret")

JULY = parse_range("2023-07", None, None)


def received(server: SmtpServer) -> dict[str, list[EmailMessage]]:
    got: dict[str, list[EmailMessage]] = {}
    for rcpt, raw in server.handler.messages:
        got.setdefault(rcpt, []).append(message_from_bytes(raw, policy=policy.default))  # type: ignore[arg-type]
    return got


def test_each_reader_gets_one_email_with_both_languages_welsh_first(tmp_path: Path, server: SmtpServer) -> None:
    config = stacked_project(tmp_path / "digest", smtp=smtp_block(server.port))
    report = send(config, build_issue(config, JULY), config.subscribers_file)
    assert report.sent == 3
    got = received(server)
    assert sorted(got) == ["anwen@example.org", "bob@example.org", "carol@example.org"]
    for email, name in [("anwen@example.org", "Anwen"), ("bob@example.org", "Bob"), ("carol@example.org", "Carol")]:
        [message] = got[email]  # one message each, whatever the `language` cell says
        assert message["Subject"] == SUBJECT
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        welsh, english = html.index('<div id="lang-cy" lang="cy"'), html.index('<div id="lang-en" lang="en"')
        assert welsh < html.index(f"Helo {name},") < html.index("Rhwystrau i rannu gwybodaeth") < english
        assert english < html.index(f"Hello {name},") < html.index("Barriers to sharing information")
        assert text.index(f"Helo {name},") < text.index("Rhwystrau i rannu") < text.index(f"Hello {name},") \
            < text.index("Barriers to sharing")
        # one footer, the reader's own unsubscribe link under both languages' words
        token_link = message["List-Unsubscribe"].split(">")[0].lstrip("<")
        footer = html[html.index('class="foot"'):]
        assert footer.count(token_link) == 2 and "Dad-danysgrifio" in footer and ">Unsubscribe</a>" in footer
        assert text.count("\n--\n") == 1 and f"Dad-danysgrifio: {token_link}" in text


def test_topics_choose_the_sections_in_every_language(tmp_path: Path, server: SmtpServer) -> None:
    readers = ("email,name,language,themes\nanwen@example.org,Anwen Jones,cy,Information sharing\n"
               "bob@example.org,Bob Smith,en,\n")
    config = stacked_project(tmp_path / "digest", smtp=smtp_block(server.port), readers=readers)
    assert send(config, build_issue(config, JULY), config.subscribers_file).sent == 2
    got = received(server)
    [anwen], [bob] = got["anwen@example.org"], got["bob@example.org"]
    chosen = anwen.get_body(("plain",)).get_content()
    assert chosen.count("== INFORMATION SHARING ==") == 2 and "== NEGLECT ==" not in chosen
    assert "Rhwystrau i rannu" in chosen and "Barriers to sharing" in chosen
    whole = bob.get_body(("plain",)).get_content()
    assert whole.count("== NEGLECT ==") == 2 and whole.count("== INFORMATION SHARING ==") == 2


def test_test_sends_and_dry_runs_make_the_stacked_email(tmp_path: Path, server: SmtpServer) -> None:
    config = stacked_project(tmp_path / "digest", smtp=smtp_block(server.port))
    dry = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Languages: cy then en, in one email to every reader (language_layout: stacked)" in dry.output
    dry_json = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--dry-run", "--json"])
    assert json.loads(dry_json.stdout)["languages"] == {"cy": 3, "en": 3}
    assert not server.handler.messages  # a dry run sends nothing

    test = CliRunner().invoke(main, ["send", "2023-07", "--config", str(config.path), "--test", "editor@example.org"])
    assert test.exit_code == 0, test.output
    [message] = received(server)["editor@example.org"]
    assert message["Subject"] == "[TEST] " + SUBJECT
    html = message.get_body(("html",)).get_content()
    assert html.index('lang="cy"') < html.index("Helo,") < html.index('<div id="lang-en"') < html.index("Hello,")


def test_a_language_cell_must_still_be_one_the_newsletter_offers(tmp_path: Path) -> None:
    readers = "email,language\nbob@example.org,en\nfrancoise@example.org,fr\n"
    config = stacked_project(tmp_path / "digest", readers=readers)
    result = CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "skipped line 3: unknown language: use one of cy, en (the config's `languages`) ('fr')" in result.output
    assert "To send: 1" in result.output
