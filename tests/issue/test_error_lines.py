"""Every mistake gets one `error:` line at the line of the offending value (issue 14, points 1-3)."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.project import item_yaml

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.daterange import parse_range
from newsletter.errors import NewsletterError
from newsletter.issue.build import build_issue
from newsletter.issue.checks.findings import Finding
from newsletter.issue.items import load_items
from newsletter.preview import error_infos

JULY = "2023-07"

LIST_FILE = """\
- title: First
  date: 2023-07-10
  source: Example Source
  theme: Neglect
  summary: One.
  links:
    - {label: Read it, title: First, url: "https://example.org/1"}
- title: Second
  date: 2023-07-11
  source: Example Source
  theme: Neglectt
  summary: Two.
  links:
    - label: Read it
      title: Second
      url: "http://example.org/2"
  image:
    src: "http://example.org/2.png"
    alt: image
"""


def run(project: Path, *args: str):
    return CliRunner().invoke(main, [*args, "--config", str(project / "newsletter.yaml")])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


# -- point 1: the line of the value ----------------------------------------------------------


def test_misspelt_theme_in_a_list_file_is_reported_at_its_theme_line(empty_project: Path) -> None:
    (empty_project / "items" / "list.yaml").write_text(LIST_FILE)
    result = run(empty_project, "build", JULY)
    assert result.exit_code == 1
    assert error_lines(result.output) == [
        "error: items/list.yaml:11: theme: unknown theme 'Neglectt' (did you mean 'Neglect'?)"]
    assert "Traceback" not in result.output


def test_preview_error_panel_shows_the_theme_line(empty_project: Path) -> None:
    (empty_project / "items" / "list.yaml").write_text(LIST_FILE)
    config = load_config(empty_project / "newsletter.yaml")
    with pytest.raises(NewsletterError) as info:
        build_issue(config, parse_range(JULY, None, None), write=False)
    [shown] = error_infos(info.value, empty_project)
    assert (shown.where, shown.field) == ("items/list.yaml:11", "theme")
    assert (11, "  theme: Neglectt") in shown.context


def test_check_findings_point_at_the_url_src_and_alt_lines(empty_project: Path) -> None:
    (empty_project / "items" / "list.yaml").write_text(LIST_FILE.replace("Neglectt", "Neglect"))
    config = load_config(empty_project / "newsletter.yaml")
    result = build_issue(config, parse_range(JULY, None, None), write=False)
    found = {(f.rule, f.where) for f in (Finding(**f) for f in result.manifest["checks"])}
    assert ("link-https", "items/list.yaml:16") in found
    assert ("image-https", "items/list.yaml:18") in found
    assert ("image-alt", "items/list.yaml:19") in found


def test_bad_nested_value_in_a_list_file_names_its_own_line(empty_project: Path) -> None:
    (empty_project / "items" / "list.yaml").write_text(
        LIST_FILE.replace("Neglectt", "Neglect").replace('"http://example.org/2"', "ftp://example.org/2"))
    with pytest.raises(NewsletterError) as info:
        load_items(empty_project / "items", root=empty_project)
    assert info.value.lines() == [
        "items/list.yaml:16: links[1].url: bad URL 'ftp://example.org/2': must start with https://, "
        "http:// or mailto: (copy the full address from the browser)"]


# -- point 2: every config key validated -------------------------------------------------------


def config_with(project: Path, extra: str) -> Path:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


@pytest.mark.parametrize("extra, expected", [
    ('colors: {primary: "#123456"}\n',
     "primary: unknown setting in colors (allowed in colors: accent, background, muted, page, text)"),
    ('colors:\n  backgrund: "#ffffff"\n', "backgrund: unknown setting in colors (did you mean 'background'?)"),
    ("smtp: {host: smtp.example.org, concurency: 2}\n",
     "concurency: unknown setting in smtp (did you mean 'concurrency'?)"),
    ("smtp: {host: smtp.example.org, port: five}\n", "port: must be a number, not 'five'"),
    ("smtp: {host: smtp.example.org, allow_insecure: 3}\n", "allow_insecure: must be true or false, not 3"),
    ("archiv_url: https://example.org/a\n", "archiv_url: unknown setting (did you mean 'archive_url'?)"),
    ("colors: [red]\n", "colors: must be a mapping of settings (e.g. colors: {name: value, ...})"),
])
def test_config_mistakes_are_one_line_each_at_the_value(empty_project: Path, extra: str, expected: str) -> None:
    path = config_with(empty_project, extra)
    line = len(path.read_text().splitlines())
    result = run(empty_project, "build", JULY)
    assert result.exit_code == 1
    assert error_lines(result.output) == [f"error: {path}:{line}: {expected}"]
    assert "Traceback" not in result.output


def test_every_config_mistake_is_reported_at_once(empty_project: Path) -> None:
    path = config_with(empty_project, 'colors: {primary: "#123456", text: [1]}\nsources:\n'
                                      '  - {url: "https://example.org/feed", name: X, thme: Neglect}\n')
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    end = len(path.read_text().splitlines())
    assert [line.removeprefix(f"{path}:") for line in info.value.lines()] == [
        f"{end - 2}: primary: unknown setting in colors (allowed in colors: accent, background, muted, page, text)",
        f"{end - 2}: text: must be text, not a list",
        f"{end}: thme: unknown setting in sources (did you mean 'theme'?)",
    ]


# -- point 3: bounded YAML ----------------------------------------------------------------------

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


def test_an_alias_bomb_item_is_one_error_line_fast(empty_project: Path) -> None:
    (empty_project / "items" / "bomb.yaml").write_text(BOMB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    result = run(empty_project, "build", JULY)
    assert result.exit_code == 1
    assert error_lines(result.output) == [
        "error: items/bomb.yaml:1: YAML anchors and aliases are not allowed (&a) (write the value out in full)"]
    assert time.process_time() - started < 5  # a guard against the bomb (79 s), not a timing test
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB


def test_an_alias_in_the_config_is_refused_at_its_line(empty_project: Path) -> None:
    path = config_with(empty_project, "tokens: &t {secret_env: X}\nbounces: *t\n")
    with pytest.raises(NewsletterError) as info:
        load_config(path)
    line = len(path.read_text().splitlines()) - 1
    assert str(info.value) == (f"{path}:{line}: YAML anchors and aliases are not allowed (&t) "
                               "(write the value out in full)")


def test_absurd_nesting_is_refused_not_a_crash(write_item, empty_project: Path) -> None:
    write_item("title: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(NewsletterError) as info:
        load_items(empty_project / "items", root=empty_project)
    assert str(info.value) == ("items/item.yaml:1: YAML nested more than 100 levels deep "
                               "(an item or the config needs only a few levels)")


def test_ampersands_and_asterisks_in_text_are_still_fine(write_item, empty_project: Path) -> None:
    write_item(item_yaml(title="'Tom & Jerry *special*'"))
    assert load_items(empty_project / "items")[0].title == "Tom & Jerry *special*"
