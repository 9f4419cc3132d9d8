"""`Finding`: what every rule returns, and the severities `send` and `check` act on.

Kept apart from the rules so that each rule module, the CLI and `issue/probe.py` share
one small type without importing any rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Finding", "Severity", "count", "error", "note", "ordered", "warning"]

Severity = Literal["error", "warning", "info"]
_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where to look, what is wrong, what to do."""

    rule: str
    severity: Severity
    where: str
    message: str
    hint: str = ""
    variant: str = ""  # the theme selection whose email has it ("" = the whole issue)

    def as_dict(self) -> dict[str, str]:
        data = asdict(self)
        if not self.variant:
            del data["variant"]  # manifests of issues without variants stay as they were
        return data


def count(findings: Iterable[Finding | Mapping[str, Any]], severity: Severity) -> int:
    """How many findings (objects or manifest dicts) have this severity."""
    return sum(1 for f in findings
               if (f.severity if isinstance(f, Finding) else f.get("severity")) == severity)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Errors, then warnings, then notes, each in rule order: how the terminal, the preview
    panel and manifest.json all list them, so the first thing the officer reads is what blocks `send`."""
    return sorted(findings, key=lambda f: (_RANK[f.severity], f.rule, f.where))


def error(rule: str, where: str, message: str, hint: str = "") -> Finding:
    """Something a subscriber or a mail provider would notice; blocks `send`."""
    return Finding(rule, "error", where, message, hint)


def warning(rule: str, where: str, message: str, hint: str = "") -> Finding:
    """Worth a look, but may be intended."""
    return Finding(rule, "warning", where, message, hint)


def note(rule: str, where: str, message: str, hint: str = "") -> Finding:
    """What the tool changed for the officer, said so it is no surprise; never fails a check,
    not even with `--strict` (there is nothing to fix)."""
    return Finding(rule, "info", where, message, hint)
