"""`newsletter schedule` (issue 30): systemd units that `systemd-analyze verify` accepts, the
cron line, and `--list` / `--cancel` finding only the newsletter's own units."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.sendkit import make_project

from newsletter.cli import main
from newsletter.config import Config


def cli(config: Config, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config.path)], catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_project(tmp_path / "my digest", extra="timezone: Europe/London\n")  # a space in the path


def test_schedule_writes_a_timer_and_service_systemd_accepts(config: Config, tmp_path: Path) -> None:
    units = tmp_path / "units"
    done = cli(config, "schedule", "2023-07", "--at", "2099-08-01 09:00", "--unit-dir", str(units))
    assert done.exit_code == 0, done.output
    assert "is to go at 2099-08-01 09:00 BST (Europe/London)" in done.output
    assert "not approved yet" in done.output
    timer, = units.glob("newsletter-send-2023-07-*.timer")
    service = timer.with_suffix(".service")
    text = timer.read_text()
    assert "OnCalendar=2099-08-01 08:00:00 UTC" in text and "Persistent=true" in text
    assert f"Unit={service.name}" in text and "WantedBy=timers.target" in text
    exec_line = next(line for line in service.read_text().splitlines() if line.startswith("ExecStart="))
    assert '-m newsletter send 2023-07 --at 2099-08-01T09:00:00+01:00 --config' in exec_line
    assert f'"{config.path}"' in exec_line  # quoted: the folder has a space
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the units' text was checked, not systemd's reading of it")
    verify = subprocess.run(["systemd-analyze", "verify", str(timer), str(service)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0 and str(units) not in verify.stderr, verify.stderr  # no warning about our files


def test_list_and_cancel_manage_only_this_newsletters_units(config: Config, tmp_path: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / "newsletter-send-other.timer").write_text("[Timer]\nOnCalendar=daily\n")  # not ours: no mark
    assert cli(config, "schedule", "2023-07", "--at", "2099-08-01 09:00", "--unit-dir", str(units)).exit_code == 0
    assert cli(config, "schedule", "--since", "2023-08-01", "--until", "2023-08-31", "--at", "2099-09-01 09:00",
               "--unit-dir", str(units)).exit_code == 0
    listed = cli(config, "schedule", "--list", "--unit-dir", str(units)).output
    assert "2023-07: at 2099-08-01 09:00 BST" in listed and "at 2099-09-01 09:00 BST" in listed
    august = next(p for p in units.glob("*.service") if "2099-09-01" in p.read_text())
    assert "send --since 2023-08-01 --until 2023-08-31 --at" in august.read_text()
    cancelled = cli(config, "schedule", "2023-07", "--cancel", "--unit-dir", str(units))
    assert cancelled.exit_code == 0 and cancelled.output.count("Removed") == 2
    assert "2023-07" not in cli(config, "schedule", "--list", "--unit-dir", str(units)).output
    assert (units / "newsletter-send-other.timer").exists()
    again = cli(config, "schedule", "2023-07", "--cancel", "--unit-dir", str(units))
    assert again.exit_code == 1 and "no scheduled send of 2023-07" in again.output


def test_cron_line_runs_the_same_send_at_the_local_time(config: Config) -> None:
    done = cli(config, "schedule", "2023-07", "--at", "2099-08-01 09:00", "--cron")
    assert done.exit_code == 0, done.output
    line = done.output.strip().splitlines()[-1]
    local = dt.datetime(2099, 8, 1, 8, 0, tzinfo=dt.UTC).astimezone()  # cron reads the machine's clock
    assert line.split()[:5] == [str(local.minute), str(local.hour), str(local.day), str(local.month), "*"]
    assert f"cd '{config.root}' && " in line
    assert "-m newsletter send 2023-07 --at 2099-08-01T09:00:00+01:00" in line and "send-2023-07.log" in line


def test_a_time_already_past_is_refused(config: Config, tmp_path: Path) -> None:
    done = cli(config, "schedule", "2023-07", "--at", "2001-01-01 09:00", "--unit-dir", str(tmp_path / "u"))
    assert done.exit_code == 1 and "is already past" in done.output
    assert not (tmp_path / "u").exists()
