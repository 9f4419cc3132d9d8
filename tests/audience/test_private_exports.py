"""Files that hold people's addresses are private to their owner (0600), like the state file."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner

from newsletter import journal
from newsletter.cli import main
from newsletter.config import Config
from newsletter.send import write_failures_csv


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_export_of_addresses_is_created_0600(config: Config, tmp_path: Path) -> None:
    journal.suppress(journal.connect(config.state), "gone@example.org", "unsubscribed", "one-click")
    for command in (["suppress", "export"], ["subscribers", "export"]):
        out = tmp_path / f"{command[0]}.csv"
        result = CliRunner().invoke(main, [*command, "--out", str(out), "--config", str(config.path)])
        assert result.exit_code == 0, result.output
        assert mode(out) == 0o600, command
    failures = tmp_path / "failures.csv"
    write_failures_csv(failures, [])
    assert mode(failures) == 0o600
    if config.state.path is not None:
        assert mode(config.state.path) == 0o600
