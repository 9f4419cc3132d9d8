"""`newsletter build` as a user runs it: output, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner
from support.project import item_yaml

from newsletter.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_a_month(project):
    result = run("build", "2023-07", "--config", str(project / "newsletter.yaml"))
    assert result.exit_code == 0, result.output
    assert "Built July 2023: 12 items in 6 themes" in result.output
    assert (project / "issues" / "2023-07" / "sample.eml").exists()


def test_build_with_since_until(project):
    result = run("build", "--since", "2023-06-30", "--until", "2023-07-01", "--config",
                 str(project / "newsletter.yaml"))
    assert result.exit_code == 0, result.output
    assert "2 items" in result.output
    assert (project / "issues" / "2023-06-30_2023-07-01" / "email.html").exists()


def test_bad_item_is_one_line_exit_1_no_traceback(project):
    (project / "items" / "typo.yaml").write_text(item_yaml(theme="Neglekt", date="2023-07-09"))
    proc = subprocess.run([sys.executable, "-m", "newsletter", "build", "2023-07"], cwd=project,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == "error: items/typo.yaml:4: theme: unknown theme 'Neglekt' (did you mean 'Neglect'?)\n"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_several_errors_one_line_each(project):
    (project / "items" / "a.yaml").write_text(item_yaml(date="2023-07-32"))
    (project / "items" / "b.yaml").write_text("title: x\ntitle2: [\n")
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: items/") for line in lines)


def test_bad_usage_exits_2(project):
    result = CliRunner().invoke(main, ["build", "--nope"])
    assert result.exit_code == 2


def test_bad_month_is_bad_usage(project):
    result = CliRunner().invoke(main, ["build", "2023-7", "--config", str(project / "newsletter.yaml")])
    assert result.exit_code == 2  # docs/reference/exit-codes.md: a malformed month is bad usage
    assert result.output.splitlines()[-1] == ("Error: Invalid value for '[YYYY-MM]': not a month: '2023-7' "
                                              "(write it as YYYY-MM, e.g. 2023-07)")


def test_missing_config(tmp_path):
    result = CliRunner().invoke(main, ["build", "2023-07", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "config file not found" in result.output


def test_help_has_an_example():
    result = run("build", "--help")
    assert "Example:" in result.output and "newsletter build 2023-07" in result.output
