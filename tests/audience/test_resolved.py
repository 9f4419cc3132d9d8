"""The resolved audience: who is mailed, with which topics, from every source, read once.

`check`, `build`, `send` (and its dry run) and `subscribers export` all read it, so a
topic chosen on the preferences page or the sign-up page gets a version `check` checked.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import journal
from newsletter.audience.resolved import Audience, resolve
from newsletter.audience.signups import claim_mail, confirm, read_request, record_request
from newsletter.audience.subscribers import SubscriberList
from newsletter.cli import main
from newsletter.config import Config, load_config

TWO_ROWS = "email,name\nann@example.org,Ann\nbob@example.org,Bob\n"


@pytest.fixture
def sample(project: Path) -> Config:
    """The sample project with a two-row CSV and no `themes` column."""
    (project / "subscribers.csv").write_text(TWO_ROWS, encoding="utf-8")
    return load_config(project / "newsletter.yaml")


@pytest.fixture
def db(sample: Config) -> Iterator[journal.Db]:
    with contextlib.closing(journal.connect(sample.state)) as connection:
        yield connection


def _resolved(config: Config, db: journal.Db) -> Audience:
    return resolve(config, config.subscribers_file, db)


def _signed_up(config: Config, db: journal.Db, email: str, themes: list[str]) -> None:
    """A sign-up on the subscriber site, confirmed through its link."""
    request = record_request(db, read_request(config, email, "Cat", themes, "page"))
    assert claim_mail(db, request.id, hourly_cap=100).status == "claimed"
    journal.set_request_mail(db, request.id, "sent")  # as the background sender does once it went
    assert confirm(db, request.email, request.nonce) is not None


def _themes(audience: Audience) -> dict[str, tuple[str, ...] | None]:
    return {s.email: s.themes for s in audience.mailed}


def test_a_csv_alone_mails_every_row_every_theme(sample: Config, db: journal.Db) -> None:
    audience = _resolved(sample, db)
    assert _themes(audience) == {"ann@example.org": None, "bob@example.org": None}
    assert audience.problems == [] and audience.from_signups == 0


def test_a_topic_saved_on_the_preferences_page_wins_over_the_csv(sample: Config, db: journal.Db) -> None:
    journal.set_preferences(db, "Bob@Example.org", ["domestic  abuse"])
    audience = _resolved(sample, db)
    assert _themes(audience)["bob@example.org"] == ("Domestic abuse",)
    assert audience.choices.from_page == 1


def test_a_topic_chosen_on_the_sign_up_page_is_kept(sample: Config, db: journal.Db) -> None:
    _signed_up(sample, db, "cat@example.org", ["Domestic abuse"])
    audience = _resolved(sample, db)
    assert _themes(audience)["cat@example.org"] == ("Domestic abuse",)
    assert audience.from_signups == 1


def test_a_suppressed_address_is_listed_but_not_mailed(sample: Config, db: journal.Db) -> None:
    journal.suppress(db, "ann@example.org", "hard-bounce", "smtp:550")
    audience = _resolved(sample, db)
    assert [s.email for s in audience.mailed] == ["bob@example.org"]
    assert audience.suppressions == {"ann@example.org": "hard-bounce"}


def test_bad_rows_and_unknown_themes_come_back_as_error_lines(sample: Config, db: journal.Db) -> None:
    sample.subscribers_file.write_text("email,themes\nann@example.org,Neglekt\nnot-an-address,\n"
                                       "ANN@example.org,\n", encoding="utf-8")
    lines = [str(p) for p in _resolved(sample, db).problems]
    assert any(":3: email: skipped: not a valid address" in line for line in lines), lines
    assert any(":4: email: skipped: same address as line 2" in line for line in lines), lines
    assert any(":2: themes: unknown theme 'Neglekt'" in line and "Neglect" in line for line in lines), lines


def _checked_versions(config: Config) -> list[str]:
    result = CliRunner().invoke(main, ["check", "2023-07", "--format", "json", "--config", str(config.path)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["versions"]


def test_check_covers_a_topic_saved_on_the_preferences_page(sample: Config, db: journal.Db) -> None:
    assert _checked_versions(sample) == []  # everyone gets the whole issue, which the build checks
    journal.set_preferences(db, "bob@example.org", ["Domestic abuse"])
    assert _checked_versions(sample) == ["themes: Domestic abuse"]


def test_check_covers_a_topic_chosen_on_the_sign_up_page(sample: Config, db: journal.Db) -> None:
    _signed_up(sample, db, "cat@example.org", ["Domestic abuse"])
    assert _checked_versions(sample) == ["themes: Domestic abuse"]


def test_check_skips_the_version_of_a_suppressed_subscriber(sample: Config, db: journal.Db) -> None:
    journal.set_preferences(db, "bob@example.org", ["Domestic abuse"])
    journal.suppress(db, "bob@example.org", "unsubscribed", "link")
    assert _checked_versions(sample) == []  # send skips bob, so no version of his is sent


def test_the_version_check_finds_what_only_that_version_has(sample: Config, db: journal.Db) -> None:
    """A subject template that only grows long with a theme list: the one-theme version's
    subject is checked, and the finding names that version."""
    text = sample.path.read_text(encoding="utf-8").replace(
        'subject: "{name}: what\'s new in {period}"',
        'subject: "{name}: what\'s new in {period} in {themes} and much more besides this month"')
    sample.path.write_text(text, encoding="utf-8")
    journal.set_preferences(db, "bob@example.org", ["Domestic abuse"])
    result = CliRunner().invoke(main, ["check", "2023-07", "--format", "json", "--config", str(sample.path)])
    findings = json.loads(result.stdout)["findings"]
    assert any(f.get("variant") == "themes: Domestic abuse" for f in findings), findings


def test_send_dry_run_and_export_see_the_same_audience(sample: Config, db: journal.Db) -> None:
    journal.set_preferences(db, "bob@example.org", ["Domestic abuse"])
    _signed_up(sample, db, "cat@example.org", ["Neglect"])
    dry = CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(sample.path)])
    assert dry.exit_code == 0, dry.output
    assert "Sign-ups: 1 confirmed" in dry.output and "To send: 3" in dry.output
    assert "1 saved on the preferences page" in dry.output
    exported = CliRunner().invoke(main, ["subscribers", "export", "--config", str(sample.path)])
    rows = {line.split(",")[0]: line.split(",")[3:5] for line in exported.stdout.splitlines()[1:]}
    assert rows == {"ann@example.org": ["", ""], "bob@example.org": ["Domestic abuse", "page"],
                    "cat@example.org": ["Neglect", "list"]}


def test_send_reads_the_list_once(sample: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks and the plan share one read: a 100,000-row list is validated once per send."""
    import newsletter.audience.resolved as resolve_module

    reads: list[Path] = []
    real = resolve_module.read_subscribers

    def counted(path: Path, *, strict: bool = False, languages: tuple[str, ...] = ()) -> SubscriberList:
        reads.append(path)
        return real(path, strict=strict, languages=languages)

    monkeypatch.setattr(resolve_module, "read_subscribers", counted)
    dry = CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(sample.path)])
    assert dry.exit_code == 0, dry.output
    assert reads == [sample.subscribers_file]
