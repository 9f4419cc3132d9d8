"""The email as the sender's brand (issue 15): logo, organisation footer, palette and dark
mode, shortened summaries and buttons, Outlook's markup, checks per theme variant."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from support.project import item_yaml

from newsletter.cli import main
from newsletter.config import AA_CONTRAST, Colors, Config, contrast_ratio, load_config, palette_for, scheme_pairs
from newsletter.daterange import parse_range
from newsletter.errors import NewsletterError
from newsletter.issue.build import BuildResult, build_issue
from newsletter.issue.checks.html import check_contrast, check_mso, mso_markup
from newsletter.issue.render import GMAIL_CLIP_BYTES
from newsletter.issue.summary import shorten_summary
from newsletter.preview import LiveBuild, create_app, outlook_view

JULY = parse_range("2023-07", None, None)


def build(config: Config) -> BuildResult:
    return build_issue(config, JULY, write=False)


@pytest.fixture
def configure(empty_project: Path) -> Callable[[str], Config]:
    """The sample config with `lines` appended (or replacing keys the sample has), loaded."""

    def make(lines: str = "", drop: tuple[str, ...] = ()) -> Config:
        path = empty_project / "newsletter.yaml"
        text = path.read_text(encoding="utf-8")
        for key in drop:
            text = re.sub(rf"^{key}:.*\n(?:[ #].*\n)*", "", text, flags=re.MULTILINE)
        path.write_text(text + textwrap.dedent(lines), encoding="utf-8")
        return load_config(path)

    return make


def _html(result: BuildResult) -> str:
    return result.files["email.html"].decode("utf-8")


def _text(result: BuildResult) -> str:
    return result.files["email.txt"].decode("utf-8")


# -- identity in config -------------------------------------------------------------------------


def test_the_sample_shows_logo_organisation_and_footer(config: Config) -> None:
    result = build(config)
    html, text = _html(result), _text(result)
    assert re.search(r'<img class="logo" src="https://example.org/brand/logo.png" alt="Example Trust Learning" '
                     r'width="160" height="40"', html)
    footer = html[html.index('class="foot"'):]
    for part in ("Example Trust", "42 Weston Street, London SE1 3QD", "Registered charity 1234567",
                 "because you subscribed", "Unsubscribe", 'href="https://example.org/contact"'):
        assert part in footer
    tail = text[text.rindex("\n--\n"):]
    for part in ("Example Trust\n42 Weston Street, London SE1 3QD\nRegistered charity 1234567",
                 "Items are chosen by our learning team", "Unsubscribe: https://example.org/unsubscribe?t=",
                 "Contact Example Trust: https://example.org/contact"):
        assert part in tail
    assert result.manifest["checks"] == []


def test_a_logo_on_this_computer_is_refused_with_its_line(configure) -> None:
    with pytest.raises(NewsletterError) as info:
        configure('logo: {src: brand/logo.png, alt: "Example Trust", width: 160}\n', drop=("logo",))
    line = str(info.value)
    assert re.search(r"newsletter.yaml:\d+: src: a file on this computer: 'brand/logo.png'", line)
    assert "upload the logo to your website" in line


def test_logo_and_organisation_errors_are_reported_together(configure) -> None:
    with pytest.raises(NewsletterError) as info:
        configure("logo: {src: 'http://example.org/l.png', alt: '', width: 900, size: 3}\n"
                  "organisation: {address: Somewhere, contact: 'call us'}\n", drop=("logo", "organisation"))
    text = "\n".join(info.value.lines())
    assert "src: not an https:// address: 'http://example.org/l.png'" in text
    assert "alt: must say what the logo shows" in text
    assert "width: must be a whole number of pixels from 1 to 552, not 900" in text
    assert "size: unknown setting" in text
    assert "name: missing" in text
    assert "contact: not a web address or an email address: 'call us'" in text


def test_a_privacy_url_is_checked_at_its_line_and_linked_from_the_footer(configure, write_item) -> None:
    with pytest.raises(NewsletterError) as info:
        configure("organisation: {name: Example Trust, privacy_url: 'privacy.html'}\n", drop=("organisation",))
    assert re.search(r"newsletter.yaml:\d+: privacy_url: not a web address: 'privacy.html' \(use https://",
                     str(info.value))
    write_item(item_yaml())
    config = configure("organisation: {name: Example Trust, privacy_url: 'https://example.org/privacy'}\n",
                       drop=("organisation",))
    result = build(config)
    assert '<a href="https://example.org/privacy"' in _html(result) and ">Privacy notice</a>" in _html(result)
    assert "Privacy notice: https://example.org/privacy" in _text(result)


def test_an_email_contact_becomes_a_mailto_link(configure, write_item) -> None:
    write_item(item_yaml())
    config = configure("organisation: {name: Example Trust, contact: hello@example.org}\n", drop=("organisation",))
    result = build(config)
    assert re.search(r'href="mailto:hello@example.org"[^>]*>Contact Example Trust</a>', _html(result))
    assert "Contact Example Trust: hello@example.org" in _text(result)


def test_without_identity_keys_the_email_still_builds(configure, write_item) -> None:
    write_item(item_yaml())
    config = configure(drop=("logo", "organisation", "footer", "summary_words", "buttons"))
    result = build(config)
    html = _html(result)
    assert 'class="logo"' not in html and "Contact " not in html and "v:roundrect" not in html
    assert "Continue reading" not in html


# -- palette and dark mode -------------------------------------------------------------------------


@pytest.mark.parametrize("accent", ["#0b5cad", "#6b2c91", "#ffcc00", "#00a651", "#e4002b", "#111111"])
def test_the_derived_colours_read(accent: str) -> None:
    """Light mode's links and masthead text, and every colour of dark mode, read at WCAG AA
    whatever the accent (body text and muted are the officer's own, checked as given)."""
    palette = palette_for(Colors(accent=accent))
    derived = [(palette.light, "on_mast", "mast"), (palette.light, "link", "background"),
               *((palette.dark, fg, bg) for fg, bg, _ in scheme_pairs(palette.dark))]
    for scheme, fg, bg in derived:
        assert contrast_ratio(getattr(scheme, fg), getattr(scheme, bg)) >= AA_CONTRAST, (accent, fg, bg)
    assert palette.dark.mast == palette.light.mast == accent  # both modes keep the brand's masthead


def test_a_yellow_masthead_gets_dark_text_instead_of_white() -> None:
    palette = palette_for(Colors(accent="#ffcc00", text="#1f2933"))
    assert palette.light.on_mast == "#1f2933"


def test_masthead_text_that_cannot_read_turns_black_and_check_says_so() -> None:
    # mid-grey: neither white nor the (light grey) text colour reaches 4.5:1 on it; black does
    palette = palette_for(Colors(accent="#808080", text="#595959"))
    assert palette.light.on_mast == palette.dark.on_mast == "#000000"
    found = check_contrast(Colors(accent="#808080", text="#595959"))
    masthead = [f for f in found if f.where == "newsletter.yaml: colors.text" and f.rule == "contrast-adjusted"]
    assert len(masthead) == 1 and masthead[0].severity == "info"
    assert "#000000 instead of colors.text #595959" in masthead[0].message
    assert not [f for f in found if f.severity == "error" and "masthead" in f.where]


def test_the_sample_with_a_yellow_accent_builds_checks_and_sends_without_force(project: Path) -> None:
    """Issue 24: `#ffcc00` is a brand colour the guide accepts, so nothing refuses it; its
    links are darkened to AA in the email, and `check` says so in a note."""
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + 'colors: {accent: "#ffcc00"}\n', encoding="utf-8")
    built = CliRunner().invoke(main, ["build", "2023-07", "--config", str(path)])
    assert built.exit_code == 0, built.output
    assert "Checks: no problems found, 1 note;" in built.output
    html = (project / "issues" / "2023-07" / "email.html").read_text(encoding="utf-8")
    assert 'href="https://' in html and "color:#8c7000" in html  # links, inlined, in the AA shade
    assert "background:#fc0" in html  # the masthead keeps the brand (premailer writes #ffcc00 short)
    checked = CliRunner().invoke(main, ["check", "2023-07", "--strict", "--config", str(path)])
    assert checked.exit_code == 0 and "info contrast-adjusted" in checked.output, checked.output
    sent = CliRunner().invoke(main, ["send", "2023-07", "--yes", "--config", str(path)])
    assert sent.exit_code == 0, sent.output
    assert "--force" not in sent.output and list((project / "outbox").glob("*/*"))


def test_the_dark_palette_is_in_the_email_and_the_archive(configure, write_item, tmp_path: Path) -> None:
    write_item(item_yaml())
    config = configure('colors: {accent: "#6b2c91"}\n')
    dark = palette_for(config.colors).dark
    html = _html(build(config))
    block = html[html.index("prefers-color-scheme:dark"):]
    assert f".mast,.btn-cell{{background:{dark.mast} !important}}" in block
    assert f"a{{color:{dark.link} !important}}" in block
    assert "#1f3a5f" not in html and "#7cb7ff" not in html  # the old hard-coded navy and blue
    build_issue(config, JULY)
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["archive", "--config", str(config.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    css = (out / "site.css").read_text(encoding="utf-8")
    assert f"--accent:{dark.link}" in css and f"--mast:{dark.mast}" in css and "#1f3a5f" not in css


# -- a digest that scans ---------------------------------------------------------------------------


def test_long_summaries_end_at_a_sentence_and_the_item_has_one_call(configure, write_item) -> None:
    long = " ".join(f"Sentence {n} has exactly six words." for n in range(1, 21))
    write_item(item_yaml(title="A long report", summary=long, url="https://example.org/report"))
    result = build(configure())
    html, text = _html(result), _text(result)
    assert "Sentence 10 has exactly six words." in html  # 60 words
    assert "Sentence 11" not in html and "Sentence 11" not in text
    assert "Continue reading" not in html and "Continue reading" not in text
    calls = re.findall(r'<a [^>]*href="https://example.org/report"[^>]*>([^<]*)</a>', html)
    assert calls == ["Read the briefing"]  # the button alone: no second link to the same place
    assert re.search(r'<a class="btn" href="https://example.org/report" aria-label="Read the briefing: A long '
                     r'report"', html)
    assert text.count("https://example.org/report") == 1
    assert "[1] Read the briefing: The briefing" in text


def test_shortening_never_cuts_inside_a_link() -> None:
    text = "First one here. See [the guide. It is long](https://example.org/g) now. Third sentence here."
    assert shorten_summary(text, 6) == ("First one here.", True)
    assert shorten_summary(text, 11) == ("First one here. See [the guide. It is long](https://example.org/g) now.", True)
    assert shorten_summary(text, 50) == (text, False)


def test_the_first_link_is_a_bulletproof_button(config: Config) -> None:
    html = _html(build(config))
    first = "https://learning.nspcc.org.uk/research-resources/2023/domestic-abuse-after-separation"
    assert re.search(rf'<!--\[if mso\]><v:roundrect [^>]*href="{re.escape(first)}"[^>]*fillcolor="#0b5cad"', html)
    assert re.search(rf'<!--\[if !mso\]><!--><a class="btn" href="{re.escape(first)}"[^>]*>Read the insight briefing</a>'
                     r"<!--<!\[endif\]-->", html)
    assert re.search(r'<td class="btn-cell" style="[^"]*background:#0b5cad', html)  # a coloured cell: no image needed


def test_forty_items_stay_under_gmails_clip(empty_project: Path) -> None:
    words = ("Local safeguarding partners published a detailed review of practice with families, "
             "describing what helped and what got in the way. ") * 8  # about 130 words
    for n in range(40):
        theme = ["Domestic abuse", "Online safety", "Neglect", "Youth violence"][n % 4]
        (empty_project / "items" / f"item{n}.yaml").write_text(
            f"title: A review of practice with families, number {n}\n"
            f"date: 2023-07-{n % 28 + 1:02d}\nsource: Example Safeguarding Partnership\ntheme: {theme}\n"
            f"summary: >-\n  {words}\n"
            f"image: {{src: 'https://example.org/images/review-{n}.jpg', alt: 'Practitioners at a review meeting'}}\n"
            "links:\n"
            f"  - {{label: Read the review, title: The review of practice number {n}, url: 'https://example.org/r/{n}'}}\n"
            f"  - {{label: Read the summary, title: A two-page summary, url: 'https://example.org/s/{n}'}}\n"
            f"see_also:\n  - {{title: Earlier reviews, url: 'https://example.org/earlier/{n}'}}\n",
            encoding="utf-8")
    result = build(load_config(empty_project / "newsletter.yaml"))
    assert len(result.rendered.issue.items) == 40
    assert len(result.files["email.html"]) < GMAIL_CLIP_BYTES
    assert not [c for c in result.manifest["checks"] if c["rule"] == "size"]


# -- Outlook -------------------------------------------------------------------------------------


def test_the_mso_markup_is_balanced(config: Config) -> None:
    html = _html(build(config))
    markup, problems = mso_markup(html)
    assert problems == []
    assert check_mso(html) == []
    assert markup.count("<table") == markup.count("</table>") == 1  # the ghost table, opened and closed
    assert markup.count("<v:roundrect") == markup.count("</v:roundrect>") == 12
    assert html.count("<!--[if mso]>") == html.count("<![endif]-->") - html.count("<!--[if !mso]><!-->")


def test_an_unbalanced_override_is_an_error(project: Path) -> None:
    layout = (Path(__file__).resolve().parents[2] / "newsletter" / "templates" / "email_layout.html").read_text()
    broken = layout.replace("<!--[if mso]></td></tr></table><![endif]-->", "<!--[if mso]></td></tr><![endif]-->")
    (project / "templates").mkdir()
    (project / "templates" / "email_layout.html").write_text(broken, encoding="utf-8")
    found = [c for c in build(load_config(project / "newsletter.yaml")).manifest["checks"] if c["rule"] == "mso-markup"]
    assert [c["severity"] for c in found] == ["error"]
    assert "leaves <table> open" in found[0]["message"]


def test_the_outlook_view_shows_what_word_sees(config: Config) -> None:
    view = outlook_view(_html(build(config)))
    assert "<style>" not in view.split("</head>")[1] and "@media" not in view
    assert "max-width" not in view and "border-radius" not in view
    assert '<table role="presentation" align="center" width="600"' in view  # the ghost table, opened
    assert 'class="btn"' not in view and "<v:roundrect" not in view
    assert 'bgcolor="#0b5cad"' in view  # the VML button, drawn as a filled cell


def test_the_preview_has_an_outlook_view(project: Path) -> None:
    live = LiveBuild(project / "newsletter.yaml", JULY)
    with TestClient(create_app(live, watch=False), base_url="http://127.0.0.1:8000") as client:
        page = client.get("/?view=outlook").text
        frame = client.get("/email.html?outlook=1").text
    assert 'aria-pressed="true">Outlook</a>' in page and "An approximation" in page
    assert "outlook=1" in page
    assert "max-width" not in frame and '<table role="presentation" align="center" width="600"' in frame


# -- checks where readers are ------------------------------------------------------------------------


def test_checks_run_on_every_variant_the_list_receives(configure, write_item, empty_project: Path) -> None:
    write_item(item_yaml(theme="Neglect"))
    config = configure("quiet_month: Nothing new in your topics this month.\n"
                       "name: The learning and safeguarding digest of Example Trust\n", drop=("name",))
    (empty_project / "subscribers.csv").write_text(
        "email,name,themes\nall@example.net,All,\nquiet@example.net,Quiet,Online safety\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "2023-07", "--config", str(config.path)])
    assert "variant" in result.output and "quiet-month" in result.output
    assert re.search(r"subject.*quiet-month note", result.output)
    built = CliRunner().invoke(main, ["build", "2023-07", "--config", str(config.path)])
    assert built.exit_code == 0, built.output
    manifest = json.loads((empty_project / "issues" / "2023-07" / "manifest.json").read_text())
    quiet = [c for c in manifest["checks"] if c.get("variant")]
    assert [(c["rule"], c["variant"]) for c in quiet] == [("subject", "quiet-month note")]
    assert all("variant" not in c for c in manifest["checks"] if c not in quiet)


def test_send_checks_the_versions_its_subscribers_receive(configure, write_item, empty_project: Path) -> None:
    write_item(item_yaml(theme="Neglect"))
    config = configure("quiet_month: Nothing new in your topics this month.\n"
                       "name: The learning and safeguarding digest of Example Trust\n", drop=("name",))
    (empty_project / "subscribers.csv").write_text(
        "email,name,themes\nall@example.net,All,\nquiet@example.net,Quiet,Online safety\n", encoding="utf-8")
    sent = CliRunner().invoke(main, ["send", "2023-07", "--dry-run", "--config", str(config.path)])
    assert sent.exit_code == 0, sent.output
    manifest = json.loads((empty_project / "issues" / "2023-07" / "manifest.json").read_text())
    assert [(c["rule"], c["variant"]) for c in manifest["checks"] if c.get("variant")] == [
        ("subject", "quiet-month note")]


def test_the_checks_panel_lists_errors_first_without_repeated_labels(project: Path) -> None:
    findings = [
        {"rule": "subject", "severity": "warning", "where": "subject", "message": "the subject is long"},
        {"rule": "contrast", "severity": "error", "where": "newsletter.yaml: colors.text", "message": "too faint"},
        {"rule": "subject", "severity": "warning", "where": "subject", "message": "capitals",
         "variant": "themes: Neglect"},
        {"rule": "contrast-adjusted", "severity": "info", "where": "newsletter.yaml: colors.accent",
         "message": "links drawn in #8c7000"},
    ]

    def with_findings(config, date_range, *, write):
        import dataclasses
        result = build_issue(config, date_range, write=write)
        return dataclasses.replace(result, manifest={**result.manifest, "checks": findings})

    live = LiveBuild(project / "newsletter.yaml", JULY, build=with_findings)
    with TestClient(create_app(live, watch=False), base_url="http://127.0.0.1:8000") as client:
        page = client.get("/").text
    panel = page[page.index('id="checks"'):page.index('id="send-test"')]
    assert panel.index(">Errors<") < panel.index("too faint") < panel.index(">Warnings<") < panel.index("is long")
    assert panel.index("capitals") < panel.index(">Notes<") < panel.index("links drawn in #8c7000")  # notes last
    assert "1 error, 2 warnings" in panel
    assert '<span class="where">subject</span>' not in panel  # "subject subject" said once
    assert "in the themes: Neglect version" in panel
