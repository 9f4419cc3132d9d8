"""`newsletter schedule`: make `send MONTH --at TIME` durable (systemd timer or cron line)."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.options import config_option, date_range, load, range_options
from newsletter.errors import SendError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.send import Schedule

__all__ = ["schedule"]


@click.command()
@range_options
@config_option
@click.option("--at", "at", metavar='"YYYY-MM-DD HH:MM"', help="When to send (the config's timezone).")
@click.option("--list", "list_", is_flag=True, help="List this newsletter's scheduled sends.")
@click.option("--cancel", is_flag=True, help="Remove the scheduled send of MONTH.")
@click.option("--system", is_flag=True, help="System units in /etc/systemd/system (as root) instead of user units.")
@click.option("--unit-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the units into this folder and enable nothing.")
@click.option("--cron", is_flag=True, help="Print the crontab line even where systemd runs.")
def schedule(month: str | None, since: str | None, until: str | None, config_path: Path, at: str | None,
             list_: bool, cancel: bool, system: bool, unit_dir: Path | None, cron: bool) -> None:
    """Schedule the send of MONTH: a systemd timer where systemd runs, else a cron line.

    The timer runs `newsletter send MONTH --at TIME`, which sends only the approved build,
    only once, and only within `approval.grace_minutes` of the time.

    \b
    Example:
      newsletter approve 2023-07
      newsletter schedule 2023-07 --at "2023-08-01 09:00"
      newsletter schedule --list
      newsletter schedule 2023-07 --cancel
    """
    from newsletter.send import Schedule, cron_line, systemd_running, write_units
    from newsletter.send import unit_dir as default_unit_dir

    config = load(config_path)
    folder = unit_dir or default_unit_dir(system=system)
    managed = unit_dir is None and systemd_running() and not cron
    if list_:
        _list(config, folder)
        return
    rng = date_range(month, since, until)
    if cancel:
        _cancel(config, rng.slug, folder, managed=managed, system=system)
        return
    if at is None:
        raise click.UsageError("give --at \"YYYY-MM-DD HH:MM\" (or --list, --cancel)")
    import datetime as dt

    from newsletter.send import describe, parse_at

    when = parse_at(at, config.timezone)
    if when <= dt.datetime.now(dt.UTC):
        raise SendError(f"{describe(when, config.timezone)} is already past", field="--at",
                        hint="give a time to come; to send now, use `newsletter send`")
    range_args = () if month else tuple(a for k, v in (("--since", since), ("--until", until)) if v for a in (k, v))
    planned = Schedule(config.path, rng.slug, when, range_args)
    _warn_unapproved(config, rng.slug)
    click.echo(f"Issue {rng.slug} is to go at {describe(when, config.timezone)}.")
    if cron or (unit_dir is None and not systemd_running()):
        click.echo("No systemd here: add this line with `crontab -e` (times in the machine's zone):"
                   if not cron else "Add this line with `crontab -e` (times in the machine's zone):")
        click.echo(cron_line(planned))
        return
    for path in write_units(planned, folder):
        click.echo(f"Wrote {path}")
    if managed:
        _systemctl(system, "daemon-reload")
        _systemctl(system, "enable", "--now", f"{planned.name}.timer")
        click.echo(f"Enabled {planned.name}.timer; `journalctl {'' if system else '--user '}-u {planned.name}` "
                   "shows what it printed"
                   + ("" if system else "; user timers run only while you are logged in unless "
                                        "`loginctl enable-linger` is set"))
    else:
        scope = "--system" if system else "--user"
        click.echo(f"To use them: copy both into {default_unit_dir(system=system)}/, then "
                   f"`systemctl {scope} daemon-reload && systemctl {scope} enable --now {planned.name}.timer`")


def _warn_unapproved(config: Config, slug: str) -> None:
    from newsletter import journal

    with contextlib.closing(journal.connect(config.state)) as db:
        if journal.latest_approval(db, slug) is None:
            click.echo(f"warning: {slug} is not approved yet; it will not go unless approved before the time "
                       f"(`newsletter approve {slug}`)", err=True)


def _mine(config: Config, folder: Path) -> list[tuple[Schedule, Path]]:
    from newsletter.send import find_schedules

    return [(s, p) for s, p in find_schedules(folder) if s.config == config.path]


def _list(config: Config, folder: Path) -> None:
    from newsletter.send import describe

    found = _mine(config, folder)
    if not found:
        click.echo(f"No scheduled sends in {folder} (a cron line is listed by `crontab -l`).")
    for planned, path in found:
        click.echo(f"{planned.slug}: at {describe(planned.at, config.timezone)} ({path})")


def _cancel(config: Config, slug: str, folder: Path, *, managed: bool, system: bool) -> None:
    from newsletter.send import remove_schedule

    found = [s for s, _ in _mine(config, folder) if s.slug == slug]
    if not found:
        raise SendError(f"no scheduled send of {slug} in {folder}",
                        hint="`newsletter schedule --list` shows them; a cron line is removed with `crontab -e`")
    for planned in found:
        if managed:
            _systemctl(system, "disable", "--now", f"{planned.name}.timer")
        for path in remove_schedule(planned, folder):
            click.echo(f"Removed {path}")
    if managed:
        _systemctl(system, "daemon-reload")


def _systemctl(system: bool, *args: str) -> None:
    command = ["systemctl", *([] if system else ["--user"]), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SendError(f"`{' '.join(command)}` did not run: {exc}") from exc
    if done.returncode != 0:
        raise SendError(f"`{' '.join(command)}` failed: {(done.stderr or done.stdout).strip()[:300]}",
                        hint="the units are written; enable the timer by hand")
