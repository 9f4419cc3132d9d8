"""What `doctor` found: one `Diagnosis` per check, printed one per line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Diagnosis", "Level", "error", "ok", "warning"]

Level = Literal["ok", "warning", "error"]


@dataclass(frozen=True)
class Diagnosis:
    """One finding: how bad, which part (spf, dmarc, dkim, relay, unsubscribe...), what and how to fix."""

    level: Level
    topic: str
    message: str
    hint: str | None = None

    def line(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.level}: {self.topic}: {self.message}{hint}"


def ok(topic: str, message: str) -> Diagnosis:
    return Diagnosis("ok", topic, message)


def warning(topic: str, message: str, hint: str | None = None) -> Diagnosis:
    return Diagnosis("warning", topic, message, hint)


def error(topic: str, message: str, hint: str | None = None) -> Diagnosis:
    return Diagnosis("error", topic, message, hint)
