"""`checks`: every rule fires on a crafted bad issue and stays quiet on the bundled sample."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.project import item_yaml

from newsletter.cli import main
from newsletter.config import Colors, Config, contrast_ratio, load_config
from newsletter.daterange import parse_range
from newsletter.issue.build import BuildResult, build_issue
from newsletter.issue.checks import check_issue
from newsletter.issue.checks.content import check_items, check_preheader, check_subject
from newsletter.issue.checks.document import parse_html
from newsletter.issue.checks.findings import Finding
from newsletter.issue.checks.html import check_contrast, check_images, check_tables
from newsletter.issue.checks.links import check_links, check_parity
from newsletter.issue.checks.message import check_headers, check_line_lengths, check_size
from newsletter.issue.items import Item, Link
from newsletter.issue.selection import Issue, Section
from newsletter.issue.wire import quoted_printable

JULY = parse_range("2023-07", None, None)
TEMPLATES = Path(__file__).resolve().parents[2] / "newsletter" / "templates"


def build(config: Config, month: str = "2023-07") -> BuildResult:
    return build_issue(config, parse_range(month, None, None), write=False)


def recheck(result: BuildResult, config: Config, **files: bytes | str) -> list[Finding]:
    """The checks over the built files with some replaced (keyword: file name with _ for .)."""
    replaced = dict(result.files)
    for key, data in files.items():
        replaced[key.replace("_", ".")] = data.encode("utf-8") if isinstance(data, str) else data
    return check_issue(result.rendered, replaced, config)


def rules(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.rule, f.severity) for f in findings}


def only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


@pytest.fixture
def july(config: Config) -> BuildResult:
    return build(config)


@pytest.fixture
def crafted(empty_project: Path, write_item: Callable[..., Path]) -> Callable[..., tuple[BuildResult, Config]]:
    """Write items (YAML texts) and config lines into the crafted project, build July 2023."""

    def make(*items: str, config_lines: str = "") -> tuple[BuildResult, Config]:
        for number, text in enumerate(items):
            write_item(text, f"item{number}.yaml")
        path = empty_project / "newsletter.yaml"
        if config_lines:
            path.write_text(path.read_text(encoding="utf-8") + config_lines, encoding="utf-8")
        config = load_config(path)
        return build(config), config

    return make


# -- the sample is clean ---------------------------------------------------------------------


@pytest.mark.parametrize("month", ["2023-06", "2023-07", "2023-08"])
def test_sample_issue_has_no_findings(config: Config, month: str) -> None:
    result = build(config, month)
    assert check_issue(result.rendered, result.files, config) == []
    assert result.manifest["checks"] == []


def test_build_records_findings_in_the_manifest(crafted) -> None:
    result, _ = crafted(item_yaml(url="http://example.org/plain"))
    assert {"rule": "link-https", "severity": "warning", "where": "items/item0.yaml:9",
            "message": "http://example.org/plain is not https",
            "hint": "use the https:// address if the site has one"} in result.manifest["checks"]


# -- size and lines ----------------------------------------------------------------------------


def test_size_rule() -> None:
    assert rules(check_size(103 * 1024)) == {("html-size", "error")}
    assert rules(check_size(95 * 1024)) == {("html-size", "warning")}
    assert check_size(60 * 1024) == []


def test_oversized_html_is_an_error(july: BuildResult, config: Config) -> None:
    padding = "".join(f"<!-- {'x' * 90} -->\n" for _ in range(1100))
    html = july.files["email.html"].decode().replace("</body>", padding + "</body>")
    assert padding in html
    assert ("html-size", "error") in rules(recheck(july, config, email_html=html))


def test_the_size_is_measured_as_sent_not_on_disk(july: BuildResult, config: Config) -> None:
    """Quoted-printable writes each `=` as `=3D` and each line end as CRLF: 80 KB on disk can be
    over the clip in the message."""
    padding = "".join(f'<p style="a=1;b=2;c=3;d=4;e=5;f=6;g=7;h=8;i=9;j=10;k=11;l=12;m=13">{n}</p>\n'
                      for n in range(800))
    html = july.files["email.html"].decode().replace("</body>", padding + "</body>")
    assert len(html.encode()) < 100 * 1024 < len(quoted_printable(html))
    assert ("html-size", "error") in rules(recheck(july, config, email_html=html))


def test_long_lines_in_any_file_are_errors(july: BuildResult, config: Config) -> None:
    text = july.files["email.txt"].decode() + "x" * 999 + "\n"
    eml = july.files["sample.eml"].replace(b"\r\n\r\n", b"\r\nX-Long: " + b"y" * 1000 + b"\r\n\r\n", 1)
    html = re.sub(r"(<body[^>]*>)", r"\1\n<p>" + "z" * 1000 + "</p>", july.files["email.html"].decode())
    found = only(recheck(july, config, email_txt=text, sample_eml=eml, email_html=html), "long-line")
    wheres = {f.where.split(":")[0] for f in found}
    assert wheres == {"email.txt", "sample.eml", "email.html"}
    assert all(f.severity == "error" for f in found)
    last = len(text.split("\n")) - 1
    assert f"email.txt:{last}" in {f.where for f in found}


def test_line_of_exactly_998_octets_is_fine() -> None:
    assert check_line_lengths({"email.txt": b"a" * 998 + b"\r\n"}) == []


# -- HTML structure ------------------------------------------------------------------------------


def test_missing_lang_is_an_error(july: BuildResult, config: Config) -> None:
    html = re.sub(r'<html lang="[^"]*"', "<html", july.files["email.html"].decode(), count=1)
    assert ("html-lang", "error") in rules(recheck(july, config, email_html=html))


def test_layout_table_without_role_is_a_warning(july: BuildResult, config: Config) -> None:
    html = july.files["email.html"].decode().replace('role="presentation" ', "", 1)
    found = only(recheck(july, config, email_html=html), "layout-table")
    assert len(found) == 1 and found[0].severity == "warning" and found[0].where.startswith("email.html:")
    data = parse_html("<html><body><table><tr><th>Region</th></tr><tr><td>North</td></tr></table></body></html>")
    assert check_tables(data) == []


def test_generic_and_file_name_alt_texts_are_warnings(crafted) -> None:
    image = "\n  src: https://example.org/img/{name}\n  alt: {alt}"
    result, _ = crafted(
        item_yaml(title="One", url="https://example.org/1", image=image.format(name="a.jpg", alt="image")),
        item_yaml(title="Two", url="https://example.org/2", image=image.format(name="b.png", alt="b.png")),
        item_yaml(title="Three", url="https://example.org/3",
                  image=image.format(name="c.jpg", alt="Image representing news article")),
        item_yaml(title="Four", url="https://example.org/4", image=image.format(name="d.jpg", alt="Photo.")),
    )
    found = only([Finding(**f) for f in result.manifest["checks"]], "image-alt")
    assert {f.where for f in found} == {f"items/item{n}.yaml:8" for n in range(4)}
    assert {f.severity for f in found} == {"warning"}


def test_image_without_alt_and_bad_sources() -> None:
    doc = parse_html('<html lang="en"><body><img src="https://example.org/a.jpg">'
                     '<img src="http://example.org/b.jpg" alt="A river at dusk">'
                     '<img src="data:image/png;base64,AAAA" alt="A chart of referrals">'
                     '<img src="/images/c.jpg" alt="A school gate"></body></html>')
    found = check_images(doc)
    assert ("image-alt", "error") in rules(found)
    assert ("image-https", "warning") in rules(found)
    assert [f.severity for f in found if f.rule == "image-src"] == ["error", "error"]
    assert all(f.where.startswith("email.html:") for f in found)


def test_good_image_is_quiet() -> None:
    doc = parse_html('<html><body><img src="https://example.org/a.jpg" alt="A teenager on a bus"></body></html>')
    assert check_images(doc) == []


def test_link_rules() -> None:
    doc = parse_html(
        '<html><body><h2 id="neglect">Neglect</h2>'
        '<a href="javascript:alert(1)">Run</a>'
        '<a href="ftp://example.org/file">File</a>'
        '<a href="https://exa mple.org/">Spaces</a>'
        '<a href="https://localhostx/">No dot</a>'
        '<a href="report.html">Relative</a>'
        '<a href="">Empty</a>'
        '<a href="#nowhere">Jump</a>'
        '<a href="#neglect">Neglect</a>'
        '<a href="http://example.org/old">Old</a>'
        '<a href="mailto:">Mail</a>'
        '<a href="mailto:help@example.org">Help</a>'
        "</body></html>")
    found = check_links(doc)
    by_text = {f.message: f for f in found}
    assert sorted(f.rule for f in found) == sorted([
        "link-scheme", "link-scheme", "link-malformed", "link-malformed", "link-malformed",
        "link-malformed", "link-anchor", "link-https", "link-malformed"])
    assert [f.severity for f in found if f.rule == "link-https"] == ["warning"]
    assert all(f.severity == "error" for f in found if f.rule != "link-https")
    assert any("javascript" in m for m in by_text)


def test_http_item_link_points_at_the_item(crafted) -> None:
    result, config = crafted(item_yaml(url="http://example.org/report"))
    found = only(check_issue(result.rendered, result.files, config), "link-https")
    assert [(f.severity, f.where) for f in found] == [("warning", "items/item0.yaml:9")]


def test_same_url_with_different_texts_is_a_warning(crafted) -> None:
    also = "\n  - title: Another name for it\n    url: https://example.org/a"
    result, config = crafted(item_yaml(url="https://example.org/a", see_also=also))
    found = only(check_issue(result.rendered, result.files, config), "link-text")
    assert len(found) == 1 and found[0].severity == "warning"
    # the sample shows an item's first link as a button labelled "Read the briefing"
    assert "'Another name for it'" in found[0].message and "'Read the briefing'" in found[0].message


def test_same_url_with_same_text_twice_is_fine() -> None:
    doc = parse_html('<html><body><a href="https://example.org/a">Report</a> '
                     '<a href="https://example.org/a"> report </a></body></html>')
    assert check_links(doc) == []


# -- the issue's content -------------------------------------------------------------------------


def test_item_without_link_and_empty_section() -> None:
    item = Item(title="No way to read more", date=dt.date(2023, 7, 3), source="Somewhere", theme="Neglect",
                summary="Text.", links=(), path="items/x.yaml", line=4)
    linked = dataclasses.replace(item, title="Fine", links=(Link("Read it", "It", "https://example.org/x"),))
    issue = Issue(JULY, (Section("Neglect", "theme-neglect", (item, linked)),
                         Section("Online safety", "theme-online-safety", ())))
    found = check_items(issue)
    assert [(f.rule, f.severity, f.where) for f in found] == [
        ("item-link", "error", "items/x.yaml:4"),
        ("empty-section", "error", "theme Online safety"),
    ]


@pytest.mark.parametrize(("subject", "problem"), [
    ("", "empty"),
    ("Safeguarding digest: everything new in research, policy and practice, July 2023", "characters"),
    ("SAFEGUARDING DIGEST: JULY 2023", "capitals"),
    ("Safeguarding digest: new this month!!!", "repeated"),
])
def test_subject_rule(subject: str, problem: str) -> None:
    found = check_subject(subject)
    assert len(found) == 1 and problem in found[0].message
    assert found[0].severity == ("error" if not subject else "warning")


def test_shouting_subject_from_the_config(crafted) -> None:
    result, config = crafted(item_yaml())
    assert only(check_issue(result.rendered, result.files, config), "subject") == []
    text = config.path.read_text(encoding="utf-8")
    assert "subject: \"{name}: what's new in {period}\"" in text
    config.path.write_text(text.replace("subject: \"{name}: what's new in {period}\"",
                                        'subject: "URGENT!!! NEW RESEARCH {period}"'), encoding="utf-8")
    config = load_config(config.path)
    result = build(config)
    found = only(check_issue(result.rendered, result.files, config), "subject")
    assert {f.severity for f in found} == {"warning"} and len(found) == 2


def test_sensible_subject_is_quiet() -> None:
    assert check_subject("Safeguarding digest: what's new in July 2023") == []
    assert check_subject("NSPCC and LGA: July 2023 briefings") == []


def test_short_preheader_from_the_config(crafted) -> None:
    result, config = crafted(item_yaml(), config_lines="preheader: New this month\n")
    found = only(check_issue(result.rendered, result.files, config), "preheader")
    assert len(found) == 1 and found[0].severity == "warning" and "14 characters" in found[0].message


def test_missing_preheader(july: BuildResult, config: Config) -> None:
    html = re.sub(r'<div style="display:none[^>]*>.*?</div>', "", july.files["email.html"].decode(),
                  count=1, flags=re.S)
    assert "display:none" not in html
    found = only(recheck(july, config, email_html=html), "preheader")
    assert len(found) == 1 and "no preheader" in found[0].message
    assert check_preheader(parse_html(july.files["email.html"].decode())) == []


def test_text_part_missing_a_link_and_html_missing_a_link(july: BuildResult, config: Config) -> None:
    url = "https://www.local.gov.uk/publications/children-safe-accommodation-commissioners"
    text = july.files["email.txt"].decode()
    assert url in text
    found = only(recheck(july, config, email_txt=text.replace(url, "(link removed)")), "text-parity")
    assert [(f.severity, "lacks " + url in f.message) for f in found] == [("error", True)]
    assert found[0].where.startswith("items/")
    extra = text + "\nMore: https://example.org/only-in-text.\n"
    found = only(recheck(july, config, email_txt=extra), "text-parity")
    assert len(found) == 1 and "https://example.org/only-in-text" in found[0].message
    assert "only-in-text." not in found[0].message  # sentence punctuation is not part of the URL


def test_parity_reads_urls_out_of_sentences(config: Config) -> None:
    urls = ["https://en.wikipedia.org/wiki/Safeguarding_(UK)", "https://example.org/a?b=1"]
    doc = parse_html("<html><body>" + "".join(f'<a href="{u}">x</a>' for u in urls) + "</body></html>")
    text = f"See {urls[0]}. Or ({urls[1]}), and \"{urls[1]}\".\n"
    assert check_parity(doc, text, config) == []


def test_parity_ignores_the_per_recipient_token(july: BuildResult, config: Config) -> None:
    text = re.sub(r"(unsubscribe\?t=)[\w.-]+", r"\1someoneelsestoken", july.files["email.txt"].decode())
    assert "someoneelsestoken" in text
    assert recheck(july, config, email_txt=text) == []


def test_missing_unsubscribe_links(july: BuildResult, config: Config) -> None:
    html = re.sub(r'<a href="https://example.org/unsubscribe[^"]*"[^>]*>Unsubscribe</a>', "Unsubscribe",
                  july.files["email.html"].decode())
    html = html.replace("mailto:unsubscribe@example.org?subject=unsubscribe", "mailto:unsubscribe@example.org")
    text = re.sub(r"Unsubscribe: \S+\n", "", july.files["email.txt"].decode())
    found = only(recheck(july, config, email_html=html, email_txt=text), "unsubscribe-link")
    assert sorted((f.where, f.severity) for f in found) == [("email.html", "error"), ("email.txt", "error")]


def test_template_without_unsubscribe_link_is_caught_at_build(project: Path) -> None:
    (project / "templates").mkdir()
    html = (TEMPLATES / "email_layout.html").read_text(encoding="utf-8")  # the footer email.html extends
    html = html.replace('<a href="{{ unsubscribe_url }}">{{ _("Unsubscribe") }}</a>', "")
    html = html.replace("<a href=\"mailto:{{ unsubscribe_mailto }}?subject=unsubscribe\">"
                        "{{ unsubscribe_mailto }}</a>", "")
    (project / "templates" / "email_layout.html").write_text(html, encoding="utf-8")
    result = build(load_config(project / "newsletter.yaml"))
    assert {(c["rule"], c["where"]) for c in result.manifest["checks"]} == {("unsubscribe-link", "email.html")}


# -- the message ---------------------------------------------------------------------------------


def _drop_header(message: bytes, name: str) -> bytes:
    return re.sub(rb"^" + name.encode() + rb":.*\r\n(?:[ \t].*\r\n)*", b"", message, count=1, flags=re.M)


@pytest.mark.parametrize("name", ["List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID", "Date", "List-Id"])
def test_missing_headers_are_errors(july: BuildResult, name: str) -> None:
    message = _drop_header(july.files["sample.eml"], name)
    assert message != july.files["sample.eml"]
    found = check_headers(message)
    assert len(found) == 1 and found[0].severity == "error" and name in found[0].where


def test_list_unsubscribe_needs_https_and_mailto(july: BuildResult) -> None:
    message = july.files["sample.eml"]
    no_mailto = re.sub(rb">,\r\n <mailto:[^>]*>", b">", message)
    assert [f.message for f in check_headers(no_mailto)] == ["List-Unsubscribe has no mailto: address"]
    no_https = re.sub(rb"List-Unsubscribe: <https://[^>]*>,\r\n ", b"List-Unsubscribe: ", message)
    assert ["https" in f.message for f in check_headers(no_https)] == [True]
    assert check_headers(message) == []


# -- colours -------------------------------------------------------------------------------------


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_low_contrast_colours_are_errors(crafted) -> None:
    result, config = crafted(item_yaml(), config_lines='colors:\n  text: "#999999"\n  accent: "#7cb7ff"\n')
    found = only(check_issue(result.rendered, result.files, config), "contrast")
    assert [f.where for f in found] == ["newsletter.yaml: colors.text"]  # the accent's links are adjusted
    assert all(f.severity == "error" for f in found)
    adjusted = only(check_issue(result.rendered, result.files, config), "contrast-adjusted")
    assert [(f.where, f.severity) for f in adjusted] == [("newsletter.yaml: colors.accent", "info"),
                                                         ("newsletter.yaml: colors.text", "info")]  # masthead: black


def test_default_colours_pass() -> None:
    assert check_contrast(Colors()) == []
    assert [(f.where, f.severity) for f in check_contrast(Colors(background="#1f2933"))] == [
        ("newsletter.yaml: colors.accent", "info"),  # links lightened on the dark background
        ("newsletter.yaml: colors.text", "error"), ("newsletter.yaml: colors.muted", "error")]


# -- the commands ----------------------------------------------------------------------------------


def test_check_command_on_the_sample(project: Path) -> None:
    result = CliRunner().invoke(main, ["check", "2023-07", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 0, result.output
    assert "Checks: no problems found." in result.output
    assert not (project / "issues").exists()  # check builds in memory only


def test_check_command_exits_1_on_errors_and_lists_them(crafted, empty_project: Path) -> None:
    crafted(item_yaml(url="http://example.org/plain"), config_lines='colors:\n  text: "#aaaaaa"\n')
    result = CliRunner().invoke(main, ["check", "--since", "2023-07-01", "--until", "2023-07-31",
                                       "--config", str(empty_project / "newsletter.yaml")])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    contrast = next(i for i, line in enumerate(lines) if "contrast" in line)
    https = next(i for i, line in enumerate(lines) if "link-https" in line)
    assert contrast < https  # errors first
    assert "error" in lines[contrast] and "warning" in lines[https]
    assert "Checks: 1 error, 1 warning." in result.output


def test_build_records_but_does_not_fail_on_errors(crafted, empty_project: Path) -> None:
    crafted(item_yaml(), config_lines='colors:\n  text: "#aaaaaa"\n')
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(empty_project / "newsletter.yaml")])
    assert result.exit_code == 0, result.output
    assert "Checks: 1 error, 0 warnings; run `newsletter check 2023-07` for details." in result.output
    manifest = json.loads((empty_project / "issues" / "2023-07" / "manifest.json").read_text())
    assert [c["rule"] for c in manifest["checks"]] == ["contrast"]


def test_send_refuses_an_issue_with_errors_unless_forced(crafted, empty_project: Path) -> None:
    crafted(item_yaml(), config_lines='colors:\n  text: "#aaaaaa"\n')
    (empty_project / "subscribers.csv").write_text("email,name\nreader@example.net,Reader\n", encoding="utf-8")
    args = ["send", "2023-07", "--yes", "--config", str(empty_project / "newsletter.yaml")]
    outbox = empty_project / "outbox"
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1, refused.output
    assert "error: newsletter.yaml: colors.text: contrast: colors.text #aaaaaa" in refused.output
    assert "not sending: `newsletter check` found 1 error in the issue" in refused.output
    assert "--force" in refused.output and "Traceback" not in refused.output
    assert not list(outbox.glob("*/*"))
    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "a real send stops here without --force" in dry.output and not list(outbox.glob("*/*"))
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "sending anyway (--force)" in forced.output
    assert len(list((outbox / "new").iterdir())) == 1


def test_send_is_not_held_up_by_warnings(crafted, empty_project: Path) -> None:
    result, _ = crafted(item_yaml(url="http://example.org/plain"))
    assert {c["severity"] for c in result.manifest["checks"]} == {"warning"}
    (empty_project / "subscribers.csv").write_text("email\nreader@example.net\n", encoding="utf-8")
    sent = CliRunner().invoke(main, ["send", "2023-07", "--yes", "--config", str(empty_project / "newsletter.yaml")])
    assert sent.exit_code == 0, sent.output
    assert len(list((empty_project / "outbox" / "new").iterdir())) == 1
