"""`newsletter check` output a user can copy from: one line per finding, JSON, --strict,
errors first everywhere, whole URLs, and one sentence when the machine seems offline."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

from click.testing import CliRunner
from support.project import item_yaml

from newsletter.cli import main
from newsletter.issue import LinkResult, link_findings

LOW_CONTRAST = 'colors:\n  text: "#aaaaaa"\n'
LONG_URL = "http://example.org/" + "/".join(f"section-{n}/page-with-a-long-name" for n in range(6)) + "?q=1"


def run_check(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", "2023-07", "--config", str(project / "newsletter.yaml"), *args])
    return result.exit_code, result.output


def add_config(project: Path, lines: str) -> None:
    path = project / "newsletter.yaml"
    path.write_text(path.read_text(encoding="utf-8") + lines, encoding="utf-8")


def test_piped_output_is_one_finding_per_line_errors_first(empty_project: Path, write_item) -> None:
    write_item(item_yaml(url="http://example.org/plain"))
    add_config(empty_project, LOW_CONTRAST)
    for args in ((), ("--format", "text")):
        code, output = run_check(empty_project, *args)
        assert code == 1, output
        lines = output.splitlines()
        assert lines[0] == ("newsletter.yaml: colors.text: error contrast: colors.text #aaaaaa on "
                            "colors.background #ffffff has contrast 2.3:1; body text need at least 4.5:1 (WCAG AA) "
                            "(darken colors.text or lighten colors.background)")
        assert re.fullmatch(r"items/item\.yaml:(\d+): warning link-https: .*http://example\.org/plain.*\(.+\)",
                            lines[1])
        url_line = (empty_project / "items" / "item.yaml").read_text().splitlines().index(
            "    url: http://example.org/plain") + 1
        assert lines[1].startswith(f"items/item.yaml:{url_line}: ")  # the line of the link's url
        assert lines[2] == "Checks: 1 error, 1 warning."


def test_json_format_for_scripts(empty_project: Path, write_item) -> None:
    write_item(item_yaml(url="http://example.org/plain"))
    add_config(empty_project, LOW_CONTRAST)
    code, output = run_check(empty_project, "--format", "json")
    assert code == 1
    report = json.loads(output)
    assert (report["issue"], report["errors"], report["warnings"]) == ("2023-07", 1, 1)
    first, second = report["findings"]
    assert (first["severity"], first["rule"], first["file"], first["line"]) == (
        "error", "contrast", "newsletter.yaml", None)
    assert (second["severity"], second["rule"], second["file"]) == ("warning", "link-https", "items/item.yaml")
    assert isinstance(second["line"], int) and second["line"] >= 1
    assert second["hint"] and "http://example.org/plain" in second["message"]


def test_strict_fails_on_warnings(empty_project: Path, write_item) -> None:
    write_item(item_yaml(url="http://example.org/plain"))
    code, output = run_check(empty_project)
    assert code == 0 and "Checks: 0 errors, 1 warning." in output
    code, output = run_check(empty_project, "--strict")
    assert code == 1 and "warning link-https" in output
    code, output = run_check(empty_project, "--strict", "--format", "json")
    assert code == 1 and json.loads(output)["warnings"] == 1


def test_a_light_accent_is_a_note_not_an_error_even_with_strict(empty_project: Path, write_item) -> None:
    write_item(item_yaml())
    add_config(empty_project, 'colors:\n  accent: "#ffcc00"\n')
    code, output = run_check(empty_project, "--strict", "--format", "text")
    assert code == 0, output
    assert output.splitlines() == [
        "newsletter.yaml: colors.accent: info contrast-adjusted: links drawn in #8c7000 instead of colors.accent "
        "#ffcc00, which has contrast 1.5:1 on #ffffff (#8c7000: 4.7:1; WCAG AA needs 4.5:1) (nothing to fix; to "
        "choose the colour yourself, set colors.accent to one that reads on #ffffff)",
        "Checks: no problems found, 1 note."]
    code, output = run_check(empty_project, "--strict", "--format", "json")
    report = json.loads(output)
    assert code == 0 and (report["errors"], report["warnings"], report["notes"]) == (0, 0, 1)
    assert report["findings"][0]["severity"] == "info"


def test_clean_issue_passes_strict(project: Path) -> None:
    code, output = run_check(project, "--strict")
    assert code == 0 and output.strip() == "Checks: no problems found."


def test_whole_urls_in_every_format(empty_project: Path, write_item) -> None:
    write_item(item_yaml(url=LONG_URL))
    _, text = run_check(empty_project, "--format", "text")
    assert LONG_URL in text
    _, terminal = run_check(empty_project, "--format", "terminal")  # 80 columns: the URL wraps
    assert max(len(line) for line in terminal.splitlines()) <= 80
    assert "…" not in terminal
    assert LONG_URL in "".join(line.strip() for line in terminal.splitlines())
    assert "items/item.yaml:" in terminal.splitlines()[0]  # FILE:LINE on one line, copyable


def test_manifest_lists_errors_first(empty_project: Path, write_item) -> None:
    write_item(item_yaml(url="http://example.org/plain"))
    add_config(empty_project, LOW_CONTRAST)
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(empty_project / "newsletter.yaml")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((empty_project / "issues" / "2023-07" / "manifest.json").read_text())
    assert [(c["severity"], c["rule"]) for c in manifest["checks"]] == [("error", "contrast"),
                                                                          ("warning", "link-https")]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_machine_is_said_once(empty_project: Path, write_item, monkeypatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    first, second = closed_port(), closed_port()
    also = f"\n  - title: Other\n    url: http://127.0.0.1:{second}/b"
    write_item(item_yaml(url=f"http://127.0.0.1:{first}/a", see_also=also))
    code, output = run_check(empty_project, "--links", "--timeout", "2")
    assert code == 1
    assert output.count("seems to be offline") == 1, output
    assert "link-unreachable" not in output and "cannot connect" not in output
    assert re.search(r"email\.html: error link-offline: none of the \d+ links could be reached", output), output


def test_unresolvable_names_say_offline_once() -> None:
    error = "cannot connect ([Errno -2] Name or service not known)"
    results = [LinkResult(f"https://host{n}.example.org/page", error=error) for n in range(17)]
    [finding] = link_findings(results)
    assert finding.rule == "link-offline"
    assert "none of the 17 links could be reached (no host name resolves)" in finding.message
    assert "offline" in finding.message and "run `newsletter check --links` again" in finding.hint


def test_one_unresolvable_host_is_its_own_finding() -> None:
    error = "cannot connect ([Errno -2] Name or service not known)"
    results = [LinkResult("https://typo.example.org/page", error=error),
               LinkResult("https://example.org/", status=200, cached=True)]
    [finding] = link_findings(results)
    assert finding.rule == "link-unreachable" and "typo.example.org" in finding.message
