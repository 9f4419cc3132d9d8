"""When a scheduled send goes: `--at` read in the newsletter's time zone, waited for, judged.

A plain process waits (under systemd, tmux, cron or a terminal): it sleeps in short
steps against the wall clock, because a monotonic sleep does not count the time a
machine spends suspended, and a laptop closed at 08:00 must still notice at 09:05 that
09:00 has passed. What it does on waking depends on how late it is:

| now | outcome |
|---|---|
| before `at` | keep waiting |
| at or after `at`, within `grace` | send now (late by the amount printed) |
| later than `at + grace` | send nothing: a missed schedule, reported (and mailed to `approval.notify`) |
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from newsletter.config import zone_of
from newsletter.errors import SendError

__all__ = ["MissedSchedule", "describe", "lateness", "parse_at", "until_text", "wait_until"]

STEP_SECONDS = 15.0  # how often the wall clock is read while waiting
Clock = Callable[[], dt.datetime]


class MissedSchedule(SendError):
    """The set time is past by more than the grace window: the send does not go."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_at(text: str, zone_name: str | None) -> dt.datetime:
    """`2023-08-01 09:00` (or ISO 8601, with seconds or an offset) in the newsletter's zone."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise SendError(f"not a date and time: {text!r}", field="--at",
                        hint='write it as "YYYY-MM-DD HH:MM", e.g. --at "2023-08-01 09:00"') from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone_of(zone_name))
    return when


def describe(when: dt.datetime, zone_name: str | None) -> str:
    """`2023-08-01 09:00 BST (Europe/London)`: the time as the officer reads it."""
    local = when.astimezone(zone_of(zone_name))
    label = local.strftime("%Z") or local.strftime("%z")
    shown = local.strftime("%Y-%m-%d %H:%M" + (":%S" if local.second else ""))
    return shown + f" {label}" + (f" ({zone_name})" if zone_name else "")


def lateness(when: dt.datetime, grace: dt.timedelta, *, now: dt.datetime | None = None) -> dt.timedelta:
    """How late a send at `when` is now (zero before it); raises `MissedSchedule` past the grace."""
    late = (now or _now()) - when
    if late > grace:
        minutes = int(grace.total_seconds() // 60)
        raise MissedSchedule(f"missed the scheduled time by {_span(late)} (the grace window is {minutes} min)",
                             hint="nothing was sent; approve and send by hand, or schedule it again "
                                  "(`approval.grace_minutes` sets the window)")
    return max(late, dt.timedelta(0))


def wait_until(when: dt.datetime, grace: dt.timedelta, *, clock: Clock = _now,
               sleep: Callable[[float], None] = time.sleep) -> dt.timedelta:
    """Block until `when` by the wall clock; returns how late it woke (raises when missed)."""
    while True:
        left = (when - clock()).total_seconds()
        if left <= 0:
            return lateness(when, grace, now=clock())
        sleep(min(left, STEP_SECONDS))


def until_text(when: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """`in 2 h 5 min`, for the line printed before waiting."""
    return "now" if when <= (now or _now()) else f"in {_span(when - (now or _now()))}"


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or f"{seconds} s"
