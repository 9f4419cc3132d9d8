"""`newsletter schedule`: a scheduled send made durable, as systemd units or a cron line.

Both run the same command, `newsletter send MONTH --at TIME`, which does the real work
(waits, rebuilds, sends only the approved build, never twice). The timer fires at the
time, or on wake after it (`Persistent=true`); the command then sends only within
`approval.grace_minutes`, else reports the missed schedule. That is why the units can be
simple and the cron line may fire again a year later without harm.

| where | what `schedule` does |
|---|---|
| systemd runs (`/run/systemd/system`) | writes `newsletter-send-*.service` + `.timer` (user or `--system`), enables it |
| `--unit-dir DIR` | writes the two units there, enables nothing (copy them where you like) |
| no systemd, or `--cron` | prints the crontab line, in the machine's local time (cron's clock) |

Each unit starts with a `# newsletter-schedule:` line (JSON) so `--list` and `--cancel`
find the newsletter's own units and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import SendError
from newsletter.files import atomic_write

__all__ = ["Schedule", "cron_line", "find_schedules", "remove_schedule", "service_text", "systemd_running",
           "timer_text", "unit_dir", "write_units"]

PREFIX = "newsletter-send-"
MARK = "# newsletter-schedule: "


@dataclass(frozen=True)
class Schedule:
    """One scheduled send: which newsletter (its config), which issue, when."""

    config: Path  # absolute
    slug: str
    at: dt.datetime  # aware
    range_args: tuple[str, ...] = ()  # `--since X --until Y` when the issue is no calendar month

    @property
    def name(self) -> str:
        """`newsletter-send-2023-07-1a2b3c4d`: one per issue of one newsletter folder."""
        folder = hashlib.sha256(str(self.config).encode()).hexdigest()[:8]
        return f"{PREFIX}{self.slug}-{folder}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "newsletter", "send", *(self.range_args or [self.slug]), "--at", self.at.isoformat(),
                "--config", str(self.config)]


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def unit_dir(*, system: bool) -> Path:
    return Path("/etc/systemd/system") if system else Path.home() / ".config" / "systemd" / "user"


def _exec(args: list[str]) -> str:
    """A command line as systemd reads it: double-quoted words, `%` and `\\` escaped."""
    def word(arg: str) -> str:
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
        return f'"{escaped}"' if any(c in arg for c in ' "\\\'%') or not arg else escaped
    return " ".join(word(a) for a in args)


def _path(path: Path) -> str:
    """A path setting takes the rest of the line as is (spaces too); only `%` is special."""
    return str(path).replace("%", "%%")


def _mark(schedule: Schedule) -> str:
    return MARK + json.dumps({"config": str(schedule.config), "slug": schedule.slug, "at": schedule.at.isoformat(),
                              "range": list(schedule.range_args)})


def service_text(schedule: Schedule) -> str:
    root = schedule.config.parent
    return (f"{_mark(schedule)}\n"
            "[Unit]\n"
            f"Description=Send the newsletter issue {schedule.slug} as approved\n"
            "Wants=network-online.target\n"
            "After=network-online.target\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"WorkingDirectory={_path(root)}\n"
            "# secrets (NEWSLETTER_TOKEN_SECRET, the SMTP password) from a 0600 file, if you keep them there\n"
            f"EnvironmentFile=-{_path(root / 'newsletter.env')}\n"
            f"ExecStart={_exec(schedule.command())}\n"
            "TimeoutStartSec=infinity\n")


def timer_text(schedule: Schedule) -> str:
    utc = schedule.at.astimezone(dt.UTC)
    return (f"{_mark(schedule)}\n"
            "[Unit]\n"
            f"Description=Send the newsletter issue {schedule.slug} at {schedule.at.isoformat()}\n\n"
            "[Timer]\n"
            f"OnCalendar={utc:%Y-%m-%d %H:%M:%S} UTC\n"
            "# asleep or off at the time: run on wake; `send --at` then goes only within the grace window\n"
            "Persistent=true\n"
            "AccuracySec=1s\n"
            f"Unit={schedule.name}.service\n\n"
            "[Install]\n"
            "WantedBy=timers.target\n")


def cron_line(schedule: Schedule) -> str:
    """The crontab line, at the machine's local time (cron's clock), logging beside the config."""
    local = schedule.at.astimezone()
    root = schedule.config.parent
    command = (f"cd {shlex.quote(str(root))} && {shlex.join(schedule.command())} "
               f">> {shlex.quote(str(root / f'send-{schedule.slug}.log'))} 2>&1")
    return f"{local.minute} {local.hour} {local.day} {local.month} * {command.replace('%', chr(92) + '%')}"


def write_units(schedule: Schedule, folder: Path) -> list[Path]:
    """Write the service and the timer into `folder`; returns their paths."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"{schedule.name}.service", folder / f"{schedule.name}.timer"]
        atomic_write(paths[0], service_text(schedule))
        atomic_write(paths[1], timer_text(schedule))
    except OSError as exc:
        raise SendError(f"cannot write the units: {exc.strerror or exc}", path=folder,
                        hint="--system needs root; or pass --unit-dir DIR") from exc
    return paths


def find_schedules(folder: Path) -> list[tuple[Schedule, Path]]:
    """The newsletter timers in `folder`, by their mark line (other units are never touched)."""
    found = []
    for path in sorted(folder.glob(f"{PREFIX}*.timer")) if folder.is_dir() else []:
        first = path.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
        if not first.startswith(MARK):
            continue
        try:
            data = json.loads(first[len(MARK):])
            found.append((Schedule(Path(data["config"]), data["slug"], dt.datetime.fromisoformat(data["at"]),
                                   tuple(data.get("range", ()))), path))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def remove_schedule(schedule: Schedule, folder: Path) -> list[Path]:
    removed = []
    for suffix in (".timer", ".service"):
        path = folder / f"{schedule.name}{suffix}"
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
