"""Every language in one email (`language_layout: stacked`, issue 31): the build's files
carry Welsh then English, each in its own `lang` section, checked like any version."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.bilingualkit import WELSH_ITEM
from support.bilingualkit import WELSH_ITEM_FILE as ITEM
from support.languagekit import SUBJECT, stacked_project

from newsletter.cli import main
from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.errors import BuildError, ConfigError
from newsletter.issue import build_issue

JULY = parse_range("2023-07", None, None)


def check(config: Config) -> tuple[int, dict[str, object], str]:
    json_run = CliRunner().invoke(main, ["check", "2023-07", "--format", "json", "--config", str(config.path)])
    text_run = CliRunner().invoke(main, ["check", "2023-07", "--config", str(config.path)])
    return text_run.exit_code, json.loads(json_run.stdout), text_run.output


def test_the_build_carries_every_language_first_listed_first(tmp_path: Path) -> None:
    config = stacked_project(tmp_path / "digest")
    result = build_issue(config, JULY)
    html = result.files["email.html"].decode()
    text = result.files["email.txt"].decode()
    assert result.rendered.subject == SUBJECT and result.manifest["subject"] == SUBJECT
    assert '<html lang="cy"' in html
    welsh, english = html.index('<div id="lang-cy" lang="cy"'), html.index('<div id="lang-en" lang="en"')
    # the link at the top jumps to the English part, in English words, before either part
    jump = html.index('<a href="#lang-en" lang="en"')
    assert jump < welsh < english and "Read this newsletter in English</a>" in html
    assert welsh < html.index("Helo Sam,") < html.index("Rhwystrau i rannu gwybodaeth") < english
    assert english < html.index("Hello Sam,") < html.index("Barriers to sharing information")
    assert html.count("Gorffennaf 2023 / July 2023") == 1  # the masthead, once
    # each part's contents jumps within that part
    assert 'href="#cy-theme-neglect"' in html and 'href="#en-theme-neglect"' in html
    assert 'id="cy-theme-neglect"' in html and 'id="en-theme-neglect"' in html
    # one footer: the organisation once, the unsubscribe wording in both languages
    footer = html[html.index('class="foot"'):]
    assert html.count('class="foot"') == 1 and footer.count("42 Weston Street") == 1
    assert footer.index('<div lang="cy">') < footer.index("Dad-danysgrifio") < footer.index('<div lang="en">') \
        < footer.index(">Unsubscribe</a>")
    # the text part: the same, in the same order, one signature
    assert text.index("=== CYMRAEG ===") < text.index("Helo Sam,") < text.index("Rhwystrau i rannu") \
        < text.index("=== ENGLISH ===") < text.index("Hello Sam,") < text.index("Barriers to sharing")
    assert text.count("\n--\n") == 1 and text.index("Dad-danysgrifio:") < text.index("Unsubscribe:")
    sample = message_from_bytes(result.files["sample.eml"], policy=policy.default)
    assert sample["Subject"] == SUBJECT
    assert not [f for f in result.findings if f.severity == "error"], result.findings
    assert not [f for f in result.findings if f.rule in ("link-text", "link-anchor")]


def test_the_language_column_chooses_nothing(tmp_path: Path) -> None:
    config = stacked_project(tmp_path / "digest")
    code, report, _ = check(config)
    assert code == 0 and report["versions"] == []  # one version for cy, en and blank readers alike


def test_a_missing_welsh_summary_is_an_error_at_its_line(tmp_path: Path) -> None:
    item = WELSH_ITEM.replace("  cy: Mae ymarferwyr yn petruso cyn rhannu gwybodaeth diogelu ag asiantaethau eraill.\n", "")
    # nobody on the list has `cy` in their column: everyone reads the Welsh part all the same
    config = stacked_project(tmp_path / "digest", item=item, readers="email,language\nbob@example.org,en\n")
    code, report, output = check(config)
    findings = [f for f in report["findings"] if f["rule"] == "language"]  # type: ignore[attr-defined]
    assert [(f["severity"], f["where"]) for f in findings] == [("error", f"{ITEM}:7")]
    assert "`summary` has no `cy` text" in findings[0]["message"]
    assert code == 1 and f"{ITEM}:7" in output


def test_topics_still_choose_the_sections_of_the_stacked_email(tmp_path: Path) -> None:
    from newsletter.issue import Variants

    config = stacked_project(tmp_path / "digest")
    variants = Variants(build_issue(config, JULY, write=False).rendered, config)
    assert variants.for_language("en") is variants and variants.for_language("cy") is variants
    only = variants.rendered(variants.key(["Information sharing"]))
    assert only.subject == SUBJECT
    assert re.findall(r'<h2 id="(\w+)-theme-[^"]+"', only.html) == ["cy", "en"]
    assert "Rhwystrau i rannu gwybodaeth" in only.html and "Barriers to sharing information" in only.html


@pytest.mark.parametrize("layout,message", [
    ("language_layout: sideways\n", "language_layout: must be separate or stacked, not 'sideways'"),
])
def test_a_bad_layout_is_an_error_at_its_line(tmp_path: Path, layout: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        stacked_project(tmp_path / "digest", layout=layout)
    assert message in str(caught.value) and ":8:" in str(caught.value)


def test_stacking_needs_two_languages(tmp_path: Path) -> None:
    config = stacked_project(tmp_path / "digest")
    config.path.write_text(config.path.read_text(encoding="utf-8").replace("languages: [cy, en]", "languages: [cy]"),
                           encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config.path)
    assert "language_layout: stacked needs two or more languages to stack" in str(caught.value)


def test_an_own_text_template_without_the_blocks_is_a_clear_error(tmp_path: Path) -> None:
    config = stacked_project(tmp_path / "digest")
    (config.root / "templates").mkdir(exist_ok=True)
    (config.root / "templates" / "email.txt").write_text("{{ name }}\n{{ greeting }}\n", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        build_issue(config, JULY)
    assert "email.txt has no `{% block content %}`" in str(caught.value)
