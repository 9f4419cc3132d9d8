"""The subscriber CSV's `themes` column through `send`, and `newsletter subscribers export`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.themekit import build, make_project, outbox, send

from newsletter import journal
from newsletter.audience.choices import apply_choices, check_list_themes
from newsletter.audience.subscribers import read_subscribers
from newsletter.cli import main
from newsletter.config import Config
from newsletter.errors import NewsletterError

CSV = """\
email,name,status,themes
ann@example.org,Ann,subscribed,
bob@example.org,Bob,subscribed,Online safety;Neglect
cy@example.org,Cy,subscribed,  online   SAFETY | neglect
di@example.org,Di,subscribed,Youth violence
ed@example.org,Ed,subscribed,Neglekt;Online safety
fay@example.org,Fay,subscribed,Neglekt
gil@example.org,Gil,subscribed,Cooking
"""


@pytest.fixture
def digest(tmp_path: Path) -> Config:
    config = make_project(tmp_path / "digest")
    (config.root / "subscribers.csv").write_text(CSV, encoding="utf-8")
    return config


def run(config: Config, *args: str) -> tuple[int, str]:
    """The exit code and everything printed (stdout and stderr)."""
    result = CliRunner().invoke(main, [*args, "--config", str(config.path)])
    return result.exit_code, result.output


def stdout(config: Config, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(config.path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_theme_names_are_matched_ignoring_case_and_spacing(digest: Config) -> None:
    listed, choices = apply_choices(read_subscribers(digest.root / "subscribers.csv"), digest, {})
    themes = {s.email: s.themes for s in listed.subscribers}
    assert themes["ann@example.org"] is None
    assert themes["bob@example.org"] == themes["cy@example.org"] == ("Online safety", "Neglect")
    assert themes["di@example.org"] == ("Youth violence",)
    assert themes["ed@example.org"] == ("Online safety",)  # the unknown name is dropped, the row kept
    assert themes["fay@example.org"] is None  # nothing known left: every theme
    assert choices.distinct == 4  # all, Online safety + Neglect, Youth violence, Online safety


def test_unknown_theme_names_are_reported_with_their_line(digest: Config) -> None:
    problems = check_list_themes(read_subscribers(digest.root / "subscribers.csv"), digest)
    path = digest.root / "subscribers.csv"
    assert [str(p) for p in problems] == [
        f"{path}:6: themes: unknown theme 'Neglekt' (did you mean 'Neglect'?)",
        f"{path}:7: themes: unknown theme 'Neglekt' (did you mean 'Neglect'?)",
        (f"{path}:8: themes: unknown theme 'Cooking' (use one of: Domestic abuse, Child sexual exploitation, "
         "Online safety, Neglect, Youth violence, Information sharing)"),
    ]


def test_excel_csv_with_semicolons_and_quoted_theme_cells(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffemail;name;themes\r\nann@example.org;Ann;\"Neglect;Online safety\"\r\n"
                     "bob@example.org;Bob;Youth violence|Neglect\r\n".encode())
    listed, _ = apply_choices(read_subscribers(path), config, {})
    assert [s.themes for s in listed.subscribers] == [("Online safety", "Neglect"), ("Neglect", "Youth violence")]


def test_send_warns_by_line_and_still_sends_every_row(digest: Config) -> None:
    code, output = run(digest, "send", "2023-07", "--yes")
    assert code == 0, output
    path = digest.root / "subscribers.csv"
    assert (f"warning: {path}:6: themes: unknown theme 'Neglekt' (did you mean 'Neglect'?): ignored, the row "
            "keeps its other themes (or gets every theme)") in output
    assert "Theme choices: 4 different selections (0 saved on the preferences page), 4 versions of the issue" in output
    received = outbox(digest)
    assert len(received) == 7
    assert received["ed@example.org"][0].sections == ["ONLINE SAFETY"]
    assert len(received["gil@example.org"][0].sections) == 6


def test_strict_aborts_on_unknown_theme_names_before_sending(digest: Config) -> None:
    code, output = run(digest, "send", "2023-07", "--yes", "--strict")
    assert code == 1
    path = digest.root / "subscribers.csv"
    assert f"error: {path}:6: themes: unknown theme 'Neglekt' (did you mean 'Neglect'?)\n" in output
    assert f"error: {path}:8: themes: unknown theme 'Cooking'" in output
    assert "Traceback" not in output
    assert not digest.outbox_dir.exists()


def test_two_subscribers_with_different_themes_get_different_digests_from_one_send(digest: Config) -> None:
    send(digest, build(digest), digest.root / "subscribers.csv")
    received = outbox(digest)
    bob, di = received["bob@example.org"][0], received["di@example.org"][0]
    assert bob.sections == ["ONLINE SAFETY", "NEGLECT"] and di.sections == ["YOUTH VIOLENCE"]
    assert "Youth violence" not in bob.text and "Neglect" not in di.text.split("--\n")[0]


def test_send_reports_the_quiet_month(digest: Config) -> None:
    code, output = run(digest, "send", "2023-08", "--yes")
    assert code == 0, output
    assert "  1 subscriber has nothing new in their themes and is skipped (quiet month)" in output
    assert "excluded: 1 quiet month: no items in the chosen themes" in output
    assert "1 skipped as a quiet month: nothing new in the themes they chose" in output
    assert "di@example.org" not in outbox(digest)


# --- subscribers export -------------------------------------------------------------


def _state(config: Config) -> None:
    db = journal.connect(config.state)
    try:
        journal.set_preferences(db, "bob@example.org", ["Youth violence"])  # overrides the CSV
        journal.set_preferences(db, "ann@example.org", [])  # chose everything on the page
        journal.suppress(db, "cy@example.org", "unsubscribed", "one-click")
        journal.suppress(db, "di@example.org", "hard-bounce", "smtp:550")
    finally:
        db.close()


def test_export_merges_the_csv_with_saved_choices_and_suppressions(digest: Config) -> None:
    (digest.root / "subscribers.csv").write_text(
        CSV + "left@example.org,Left,unsubscribed,Neglect\nbad-address,Broken,subscribed,\n"
        'cmd@example.org,"=HYPERLINK(""x"")",subscribed,\n', encoding="utf-8")
    _state(digest)
    out = digest.root / "crm.csv"
    code, output = run(digest, "subscribers", "export", "--out", str(out))
    assert code == 0, output
    assert "Wrote 9 subscribers to" in output and "(2 with topics from the preferences page, 2 unsubscribed)" in output
    assert "subscribers.csv:10: skipped: not a valid address" in output
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
    assert list(rows["ann@example.org"].values()) == ["ann@example.org", "Ann", "subscribed", "", "page", "", "",
                                                  "", "", "", "", "", ""]  # no sign-up: no consent columns; no language
    assert (rows["bob@example.org"]["themes"], rows["bob@example.org"]["themes_from"]) == ("Youth violence", "page")
    assert (rows["cy@example.org"]["status"], rows["cy@example.org"]["themes"]) == ("unsubscribed", "Online safety;Neglect")
    assert rows["cy@example.org"]["suppressed"] == "unsubscribed" and rows["cy@example.org"]["suppressed_since"]
    assert (rows["di@example.org"]["status"], rows["di@example.org"]["suppressed"]) == ("subscribed", "hard-bounce")
    assert (rows["left@example.org"]["status"], rows["left@example.org"]["themes_from"]) == ("unsubscribed", "list")
    assert rows["ed@example.org"]["themes"] == "Online safety"
    assert rows["cmd@example.org"]["name"] == "'=HYPERLINK(\"x\")"  # no formula in the CRM's spreadsheet
    assert "bad-address" not in rows


def test_the_export_is_a_subscriber_csv_send_reads_back(digest: Config) -> None:
    _state(digest)
    path = digest.root / "merged.csv"
    path.write_text(stdout(digest, "subscribers", "export"), encoding="utf-8")
    listed = read_subscribers(path, strict=True)
    assert {s.email: s.themes for s in listed.subscribers}["bob@example.org"] == ("Youth violence",)
    assert [s.email for s in listed.unsubscribed] == ["cy@example.org"]


def test_export_of_a_missing_list_is_one_error_line(tmp_path: Path, config: Config) -> None:
    code, output = run(config, "subscribers", "export", "--subscribers", str(tmp_path / "nope.csv"))
    assert code == 1
    assert output.startswith("error: ") and "subscriber list not found" in output and "Traceback" not in output


def test_strict_errors_come_all_at_once(digest: Config) -> None:
    with pytest.raises(NewsletterError) as caught:
        apply_choices(read_subscribers(digest.root / "subscribers.csv"), digest, {}, strict=True)
    assert len(caught.value.lines()) == 3


def test_the_plan_names_a_quiet_month_even_when_everyone_chose_alike(tmp_path: Path) -> None:
    config = make_project(tmp_path / "alike", 'quiet_month: "Nothing new in your topics."\n')
    (config.root / "subscribers.csv").write_text("email,themes\na@example.org,Youth violence\n"
                                                "b@example.org,youth violence\n", encoding="utf-8")
    code, output = run(config, "send", "2023-08", "--yes")
    assert code == 0, output
    assert "Theme choices: 1 selection (0 saved on the preferences page), 1 version of the issue" in output
    assert "  2 subscribers have nothing new in their themes and get the quiet-month note" in output
    assert {m[0].subject for m in outbox(config).values()} == {
        "Safeguarding digest: nothing new in your topics for August 2023"}
