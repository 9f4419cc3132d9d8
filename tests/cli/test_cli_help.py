"""`newsletter --help`: commands in the order of the work, one line each, nothing imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from newsletter.cli import ALIASES, COMMANDS, help_sections, main

REPO = Path(__file__).resolve().parents[2]


def test_help_groups_commands_in_the_order_of_the_work() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    titles = [line.rstrip(":") for line in lines if line.endswith(":") and not line.startswith(" ")]
    assert titles == ["Options", "Start", "Make", "Send", "Audience", "Publish", "Keys"]
    listed = [line.split()[0] for line in lines[lines.index("Start:"):] if line.startswith("  ")]
    order = ["init", "new", "collect", "build", "check", "preview", "approve", "send", "schedule", "remind",
             "status", "report", "doctor", "serve", "unsubscribe-server", "subscribe-form", "suppress", "bounces", "subscribers",
             "person", "archive", "dkim"]
    assert listed == [n for n in order if n in listed]
    assert listed.index("build") < listed.index("check") < listed.index("preview") < listed.index("send")
    assert listed[-2:] == ["archive", "dkim"]
    assert sorted(listed) == sorted(n for n in COMMANDS if ALIASES.get(n) not in COMMANDS)  # aliases hidden


def test_every_description_fits_on_one_line() -> None:
    result = CliRunner().invoke(main, ["--help"], terminal_width=78)  # click's width in an 80-column terminal
    commands = result.output.split("Start:")[1].splitlines()
    rows = [line for line in commands if line.startswith("  ")]
    assert all(len(line) <= 78 and not line.endswith("...") for line in rows), rows
    assert not [line for line in rows if line.startswith("    ")]  # no continuation lines
    assert "  check " in result.output and "Check an issue for problems before sending it." in result.output


def test_commands_not_yet_registered_are_skipped_and_aliases_hidden() -> None:
    sections = dict(help_sections(["build", "serve", "unsubscribe-server", "dkim", "zebra"]))
    assert sections == {"Make": ["build"], "Audience": ["serve"], "Keys": ["dkim"], "Other": ["zebra"]}
    assert dict(help_sections(["unsubscribe-server"])) == {"Other": ["unsubscribe-server"]}  # shown, never lost
    ctx = click.Context(main, info_name="newsletter")
    listed = main.list_commands(ctx)
    assert "serve" in listed and "unsubscribe-server" not in listed and "item" not in listed  # each command once
    assert main.get_command(ctx, "unsubscribe-server") is main.get_command(ctx, "serve")  # the old name still runs


def test_help_imports_no_command_module() -> None:
    code = ("import sys\nfrom newsletter.cli import main\n"
            "try:\n    main(['--help'], prog_name='newsletter')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('newsletter.') or m == 'rich'))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    loaded = out.splitlines()[-1]
    assert "newsletter.cli.check" not in loaded and "'rich'" not in loaded and "newsletter.issue" not in loaded
