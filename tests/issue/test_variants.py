"""Theme variants: one render per distinct selection, exactly the chosen sections, quiet months.

Every send here goes through the embedded outbox (a real aiosmtpd server on 127.0.0.1
writing a Maildir); the messages are read back and parsed as a mail client would.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.themekit import AUGUST, JULY, build, make_project, outbox, send, write_csv

from newsletter import journal
from newsletter.config import Config, describe, selection_of
from newsletter.daterange import parse_range
from newsletter.issue import variants as variants_module
from newsletter.issue.items import load_items
from newsletter.issue.render import render_issue
from newsletter.issue.selection import make_issue
from newsletter.issue.stacked import render_version
from newsletter.issue.variants import Variants, preview_variant
from newsletter.journal import SkipReason

ALL_SIX = "Domestic abuse;Child sexual exploitation;Online safety;Neglect;Youth violence;Information sharing"
JULY_THEMES = ["DOMESTIC ABUSE", "CHILD SEXUAL EXPLOITATION", "ONLINE SAFETY", "NEGLECT", "YOUTH VIOLENCE",
               "INFORMATION SHARING"]


@pytest.fixture
def count_renders(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, ...]]:
    """Counts the real renders made for variants (`render_version`: `render_issue`, or the
    languages stacked), by the themes rendered."""
    calls: Counter[tuple[str, ...]] = Counter()

    def counting(issue: Any, config: Config, **options: Any) -> Any:
        calls[tuple(issue.themes) if options.get("template", "email") == "email" else ("quiet",)] += 1
        return render_version(issue, config, **options)

    monkeypatch.setattr(variants_module, "render_version", counting)
    return calls


def test_selections_match_theme_names_like_items_do(config: Config) -> None:
    assert selection_of(["online  SAFETY", "neglect"], config) == {"Online safety", "Neglect"}
    assert selection_of(["Youth_violence"], config) == {"Youth violence"}
    assert selection_of(None, config) is None  # no column: everything
    assert selection_of([], config) is None  # empty cell: everything
    assert selection_of(ALL_SIX.split(";"), config) is None  # every theme is the same as no choice
    assert selection_of(["Neglekt"], config) is None  # nothing known left: everything
    assert selection_of(["Neglekt", "Neglect"], config) == {"Neglect"}
    assert describe(selection_of(["neglect", "online safety"], config), config) == "Online safety, Neglect"


def test_many_subscribers_few_renders_and_each_gets_exactly_their_sections(
        tmp_path: Path, count_renders: Counter[tuple[str, ...]]) -> None:
    config = make_project(tmp_path / "digest")
    selections = ["", "Online safety;Neglect", "neglect | online  safety", "Youth violence", "Neglect", ALL_SIX]
    rows = [(f"reader{n}@example.org", selections[n % len(selections)]) for n in range(60)]
    report = send(config, build(config), write_csv(config.root, rows))

    assert report.sent == 60
    # three variants besides the whole issue, each rendered once for 60 subscribers
    assert count_renders == {("Online safety", "Neglect"): 1, ("Youth violence",): 1, ("Neglect",): 1}
    expected = {
        "": JULY_THEMES, ALL_SIX: JULY_THEMES,
        "Online safety;Neglect": ["ONLINE SAFETY", "NEGLECT"], "neglect | online  safety": ["ONLINE SAFETY", "NEGLECT"],
        "Youth violence": ["YOUTH VIOLENCE"], "Neglect": ["NEGLECT"],
    }
    received = outbox(config)
    assert len(received) == 60
    for email, themes in rows:
        [message] = received[email]
        assert message.sections == expected[themes], email
        assert [h.upper() for h in message.html_sections] == expected[themes], email
        assert [t.upper() for t in message.toc] == expected[themes], email


def test_subject_preheader_and_contents_describe_the_chosen_themes(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest",
                          replace={"subject": 'subject: "{name}: {themes} ({count} items) in {period}"'})
    csv = write_csv(config.root, [("all@example.org", ""), ("two@example.org", "Neglect|Online safety")])
    send(config, build(config), csv)
    received = outbox(config)
    [everything], [two] = received["all@example.org"], received["two@example.org"]

    assert two.subject == "Safeguarding digest: Online safety, Neglect (4 items) in July 2023"
    assert everything.subject.startswith("Safeguarding digest: Domestic abuse, Child sexual exploitation, ")
    assert "4 new items in this issue: Online safety (2), Neglect (2)" in two.html
    assert "12 new items in this issue" in everything.html
    assert re.findall(r'<a href="#(theme-[a-z-]+)"', two.html) == ["theme-online-safety", "theme-neglect"]


def test_themes_without_items_this_month_do_not_make_another_version(
        tmp_path: Path, count_renders: Counter[tuple[str, ...]]) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_csv(config.root, [("a@example.org", "Neglect;Youth violence"), ("b@example.org", "Neglect"),
                                  ("c@example.org", "Neglect;Information sharing")])
    report = send(config, build(config, "2023-08"), csv)
    assert report.sent == 3
    assert count_renders == {("Neglect",): 1}
    assert {m[0].sections[0] for m in outbox(config).values()} == {"NEGLECT"}


def test_a_quiet_month_is_skipped_and_counted(tmp_path: Path) -> None:
    config = make_project(tmp_path / "digest")
    csv = write_csv(config.root, [("busy@example.org", "Neglect"), ("quiet@example.org", "Youth violence"),
                                  ("quiet2@example.org", "information sharing|youth violence")])
    report = send(config, build(config, "2023-08"), csv)

    assert (report.sent, report.skipped, report.quiet) == (1, 2, 2)
    assert report.complete
    assert list(outbox(config)) == ["busy@example.org"]
    db = journal.connect(config.state)
    try:
        run = journal.get_run(db, AUGUST.slug, journal.RunKind.REHEARSAL)  # into the outbox: a rehearsal
        assert run is not None and run.finished
        skipped = {r.key: r.reply for r in journal.run_recipients(db, run.id, ("skipped",))}
    finally:
        db.close()
    assert skipped == {"quiet@example.org": SkipReason.QUIET, "quiet2@example.org": SkipReason.QUIET}


def test_a_quiet_month_note_when_configured(tmp_path: Path, count_renders: Counter[tuple[str, ...]]) -> None:
    config = make_project(tmp_path / "digest", 'quiet_month: "Nothing new in your topics this month."\n'
                                                'preferences_url: "https://example.org/unsubscribe/preferences"\n')
    rows = [("busy@example.org", "Neglect")] + [(f"quiet{n}@example.org", "Youth violence") for n in range(5)]
    report = send(config, build(config, "2023-08"), write_csv(config.root, rows))

    assert (report.sent, report.skipped, report.quiet) == (6, 0, 0)
    assert count_renders == {("Neglect",): 1, ("quiet",): 1}  # one note for five quiet subscribers
    received = outbox(config)
    [note] = received["quiet3@example.org"]
    assert note.subject == "Safeguarding digest: nothing new in your topics for August 2023"
    assert "Nothing new in your topics this month." in note.text
    assert note.sections == []
    assert "IN THE FULL ISSUE\n- Domestic abuse (1)\n- Child sexual exploitation (1)\n" in note.text
    assert "choose more topics: https://example.org/unsubscribe/preferences?t=" in note.text
    assert "Visit Example Trust online: https://example.org/" in note.text  # no archive: the website
    assert '<a href="https://example.org/" style="color:#0b5cad">Visit Example Trust online</a>' in note.html
    assert 'role="presentation"' in note.html and 'lang="en-GB"' in note.html
    [busy] = received["busy@example.org"]
    assert busy.sections == ["NEGLECT"]


def test_the_preview_shows_a_selection_through_the_build_path(config: Config) -> None:
    from newsletter.issue.build import build_issue

    result = build_issue(config, JULY, write=False)
    variants = Variants(result.rendered, config)
    view = preview_variant(result, config, ["Online Safety"], variants)
    assert view.selection == {"Online safety"} and view.result is not None
    html = view.result.files["email.html"].decode()
    assert re.findall(r'<h2 id="theme-[^"]*"[^>]*>(.*?)</h2>', html) == ["Online safety"]
    assert "Hello Sam," in html  # sample recipient values filled in, as email.html is
    assert [t["theme"] for t in view.result.manifest["themes"]] == ["Online safety"]
    assert preview_variant(result, config, [], variants).result is result
    assert variants.renders == 1


@pytest.fixture
def preview(config: Config) -> Any:
    from starlette.testclient import TestClient

    from newsletter.preview import LiveBuild, create_app

    def client(month: str = "2023-07") -> TestClient:
        live = LiveBuild(config.path, parse_range(month, None, None))
        live.rebuild()
        return TestClient(create_app(live, watch=False), base_url="http://127.0.0.1")

    return client


def test_preview_page_for_a_theme_selection(preview: Any) -> None:
    client = preview()
    page = client.get("/?themes=neglect,Online+safety&tab=text")
    assert page.status_code == 200
    html = page.text
    assert '<strong id="chosen-themes">Online safety, Neglect</strong>' in html
    assert "4 new items in this issue: Online safety (2), Neglect (2)" in html  # the inbox line
    assert re.findall(r"== (.+) ==", html) == ["ONLINE SAFETY", "NEGLECT"]  # the text tab
    assert 'href="?view=mobile&amp;scheme=light&amp;tab=text&amp;themes=Online%20safety%2CNeglect"' in html
    assert 'href="/files/email.txt?themes=Online%20safety%2CNeglect"' in html
    assert re.findall(r"<h2[^>]*>(.*?)</h2>", client.get("/email.html?themes=Neglect").text)[1:] == ["Neglect"]
    text = client.get("/files/email.txt?theme=Youth+violence&theme=Neglect").text
    assert re.findall(r"^== (.+) ==$", text, re.MULTILINE) == ["NEGLECT", "YOUTH VIOLENCE"]
    everything = client.get("/?tab=text").text
    assert len(re.findall(r"== (.+) ==", everything)) == 6 and "all themes</strong>" in everything


def test_preview_names_unknown_themes_and_quiet_selections(preview: Any, config: Config) -> None:
    bad = preview().get("/?themes=Neglekt")
    assert bad.status_code == 400 and "unknown theme &#39;Neglekt&#39; (did you mean &#39;Neglect&#39;?)" in bad.text
    quiet = preview("2023-08").get("/?themes=Youth+violence")
    assert quiet.status_code == 400 and "Nothing in Youth violence this month" in quiet.text


def test_preview_shows_the_quiet_month_note(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from newsletter.preview import LiveBuild, create_app

    config = make_project(tmp_path / "digest", 'quiet_month: "A quiet month in your topics."\n')
    live = LiveBuild(config.path, AUGUST)
    live.rebuild()
    client = TestClient(create_app(live, watch=False), base_url="http://127.0.0.1")
    page = client.get("/?themes=Youth+violence&tab=text")
    assert page.status_code == 200
    assert "nothing new in your topics for August 2023" in page.text and "A quiet month in your topics." in page.text


def test_the_whole_issue_is_never_rendered_again(config: Config, count_renders: Counter[tuple[str, ...]]) -> None:
    issue = make_issue(load_items(config.items_dir, root=config.root), config, JULY)
    rendered = render_issue(issue, config)
    variants = Variants(rendered, config)
    assert variants.rendered(variants.key(None)) is rendered
    assert variants.rendered(variants.key(ALL_SIX.split(";"))) is rendered
    assert variants.key(["Neglect"]) == frozenset({"Neglect"})
    assert not count_renders
