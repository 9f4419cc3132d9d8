"""Bilingual lists (issue 31): a `language` column, items per language, one version per
language, each checked, each reader sent theirs through a real SMTP server."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.bilingualkit import WELSH_ITEM
from support.bilingualkit import WELSH_ITEM_FILE as ITEM
from support.sendkit import make_project, send, smtp_block
from support.smtpserver import SmtpServer

from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.issue import build_issue

pytestmark = pytest.mark.usefixtures("token_secret")

JULY = parse_range("2023-07", None, None)


def bilingual(root: Path, *, smtp: dict[str, object] | None = None, item: str = WELSH_ITEM) -> Config:
    """The sample newsletter offered in Welsh and English, one item written in both."""
    config = make_project(root, smtp=smtp)
    text = config.path.read_text(encoding="utf-8").replace(
        "language: en-GB\n", "language: en\nlanguages: [cy, en]\n").replace(
        "subject: \"{name}: what's new in {period}\"",
        "subject: {en: \"{name}: what's new in {period}\", cy: \"{name}: beth sy'n newydd yn {period}\"}")
    config.path.write_text(text, encoding="utf-8")
    (root / ITEM).write_text(item, encoding="utf-8")
    (root / "subscribers.csv").write_text("email,name,language\nanwen@example.org,Anwen Jones,cy\n"
                                          "bob@example.org,Bob Smith,en\n", encoding="utf-8")
    return load_config(config.path)


def check_json(config: Config) -> dict[str, object]:
    result = CliRunner().invoke(main, ["check", "2023-07", "--format", "json", "--config", str(config.path)])
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_each_reader_receives_their_language(tmp_path: Path, server: SmtpServer) -> None:
    config = bilingual(tmp_path / "digest", smtp=smtp_block(server.port))
    report = send(config, build_issue(config, JULY), config.subscribers_file)
    assert report.sent == 2
    got: dict[str, EmailMessage] = {rcpt: message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
                                    for rcpt, raw in server.handler.messages}
    welsh, english = got["anwen@example.org"], got["bob@example.org"]
    assert welsh["Subject"] == "Safeguarding digest: beth sy'n newydd yn Gorffennaf 2023"
    assert english["Subject"] == "Safeguarding digest: what's new in July 2023"
    welsh_html = welsh.get_body(("html",)).get_content()
    welsh_text = welsh.get_body(("plain",)).get_content()
    english_html = english.get_body(("html",)).get_content()
    assert 'lang="cy"' in welsh_html and "Helo Anwen," in welsh_text
    assert "Rhwystrau i rannu gwybodaeth" in welsh_html and "Darllenwch yr adroddiad ymchwil" in welsh_html
    assert "Barriers to sharing information" not in welsh_html
    assert "Gorffennaf" not in english_html and "Barriers to sharing information" in english_html
    assert "Hello Bob," in english.get_body(("plain",)).get_content()


def test_check_lists_and_checks_every_language_version(tmp_path: Path) -> None:
    config = bilingual(tmp_path / "digest")
    exported = CliRunner().invoke(main, ["subscribers", "export", "--json", "--config", str(config.path)])
    assert [(row["email"], row["language"]) for row in json.loads(exported.stdout)["subscribers"]] == [
        ("anwen@example.org", "cy"), ("bob@example.org", "en")]
    report = check_json(config)
    assert report["versions"] == ["language: cy"]
    assert not [f for f in report["findings"] if f["rule"] == "language"]  # type: ignore[attr-defined]


def test_an_item_missing_a_readers_language_is_an_error_at_its_line(tmp_path: Path) -> None:
    item = WELSH_ITEM.replace("  cy: Mae ymarferwyr yn petruso cyn rhannu gwybodaeth diogelu ag asiantaethau eraill.\n", "")
    config = bilingual(tmp_path / "digest", item=item)
    findings = [f for f in check_json(config)["findings"] if f["rule"] == "language"]  # type: ignore[attr-defined]
    assert [(f["severity"], f["where"], f["variant"]) for f in findings] == [("error", f"{ITEM}:7", "language: cy")]
    assert "`summary` has no `cy` text" in findings[0]["message"]
    result = CliRunner().invoke(main, ["check", "2023-07", "--config", str(config.path)])
    assert result.exit_code == 1 and f"{ITEM}:7" in result.output

    (config.root / "subscribers.csv").write_text("email,language\nbob@example.org,en\n", encoding="utf-8")
    report = check_json(config)  # nobody reads Welsh: nothing is missing
    assert report["versions"] == [] and not [f for f in report["findings"] if f["rule"] == "language"]  # type: ignore[attr-defined]


def test_a_language_the_newsletter_does_not_offer_is_a_row_problem(tmp_path: Path) -> None:
    config = bilingual(tmp_path / "digest")
    (config.root / "subscribers.csv").write_text("email,language\nbob@example.org,EN\nfrancoise@example.org,fr\n",
                                                 encoding="utf-8")
    result = CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    assert "skipped line 3: unknown language: use one of cy, en (the config's `languages`) ('fr')" in result.output
    assert "To send: 1" in result.output and "Languages: en 1" in result.output
