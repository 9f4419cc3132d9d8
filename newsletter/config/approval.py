"""The `approval:` block and `timezone:`: who approves an issue, when a scheduled send may go.

The keys, kinds, defaults and help are declared in schema.py (`APPROVAL`, and `timezone`
in `TOP`); this module checks what the kind alone cannot: addresses that are plain
addresses, a reminder day every month has (1-28), a preview address, a zone that exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from newsletter.config.reader import ConfigReader
from newsletter.config.schema import APPROVAL, TOP
from newsletter.yamldoc import LineMap

__all__ = ["ApprovalConfig", "read_approval", "read_timezone", "zone_of"]

DEFAULT_PREVIEW_URL: str = APPROVAL.default("preview_url")


@dataclass(frozen=True)
class ApprovalConfig:
    required: bool = APPROVAL.default("required")
    notify: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    remind_on: int | None = None
    preview_url: str = DEFAULT_PREVIEW_URL
    grace_minutes: int = APPROVAL.default("grace_minutes")


def _addresses(r: ConfigReader, section: LineMap, key: str) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        r.error(section, key, "must be a list of addresses", f"e.g. {key}: [editor@example.org]")
        return ()
    found = []
    for entry in value:
        text = str(entry).strip()
        local, at, domain = text.rpartition("@")
        if not at or not local or "." not in domain or any(c in text for c in ' <>"\r\n,;'):
            r.error(section, key, f"not a plain address: {text!r}", "write one address per entry, e.g. editor@example.org")
            continue
        found.append(text)
    return tuple(found)


def read_approval(r: ConfigReader, data: LineMap) -> ApprovalConfig:
    """The `approval:` block (all optional); the defaults when it is absent."""
    section = r.section(data, "approval", {**APPROVAL.kinds(), "notify": "any", "approvers": "any"})
    if section is None:
        return ApprovalConfig()
    required = r.value(section, APPROVAL["required"])
    remind_on = r.value(section, APPROVAL["remind_on"])
    if remind_on is not None and remind_on > 28:
        r.error(section, "remind_on", f"day {remind_on} is missing from some months",
                "use a day from 1 to 28, e.g. remind_on: 25")
        remind_on = None
    preview_url = r.value(section, APPROVAL["preview_url"])
    if not preview_url.startswith(("http://", "https://")) or any(c.isspace() or c in '<>"' for c in preview_url):
        r.error(section, "preview_url", f"not a web address: {preview_url!r}", "e.g. http://127.0.0.1:8000/")
        preview_url = DEFAULT_PREVIEW_URL
    return ApprovalConfig(required=required, notify=_addresses(r, section, "notify"),
                          approvers=_addresses(r, section, "approvers"), remind_on=remind_on,
                          preview_url=preview_url, grace_minutes=r.value(section, APPROVAL["grace_minutes"]))


def read_timezone(r: ConfigReader, data: LineMap) -> str | None:
    """`timezone: Europe/London`, checked against the zone database; None = the machine's zone."""
    name = r.value(data, TOP["timezone"])
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        import difflib

        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        r.error(data, "timezone", f"unknown time zone {name!r}",
                f"did you mean {close[0]!r}?" if close else "use an IANA name such as Europe/London")
        return None
    return name


def zone_of(name: str | None) -> dt.tzinfo:
    """The newsletter's zone: the configured one, else the machine's local zone."""
    if name:
        return ZoneInfo(name)
    local = dt.datetime.now().astimezone().tzinfo
    assert local is not None
    return local
