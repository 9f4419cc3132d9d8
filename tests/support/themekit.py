"""Helpers for the theme-choice tests: a sample project, a CSV with themes, the outbox read back."""

from __future__ import annotations

import mailbox
import re
import shutil
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from newsletter.config import Config, load_config
from newsletter.daterange import parse_range
from newsletter.issue import BuildResult, build_issue
from newsletter.send import SendReport, send_issue
from support.project import REPO
from support.sendkit import plan_send

JULY = parse_range("2023-07", None, None)  # all six themes, two items each
AUGUST = parse_range("2023-08", None, None)  # no Youth violence, no Information sharing
SECRET = "theme-tests-token-secret"


def make_project(root: Path, extra: str = "", *, replace: dict[str, str] | None = None) -> Config:
    """The bundled sample config and items in `root`, plus `extra` config lines.

    `replace` swaps whole top-level lines by key, e.g. {"subject": 'subject: "{themes}"'}.
    """
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "items").exists():
        shutil.copytree(REPO / "items", root / "items")
    text = (REPO / "newsletter.yaml").read_text(encoding="utf-8")
    for key, line in (replace or {}).items():
        text, count = re.subn(rf"^{key}:.*$", line.replace("\\", "\\\\"), text, count=1, flags=re.MULTILINE)
        assert count == 1, f"no `{key}:` line in the sample config"
    (root / "newsletter.yaml").write_text(text + extra, encoding="utf-8")
    return load_config(root / "newsletter.yaml")


def write_csv(root: Path, rows: list[tuple[str, str]], name: str = "subscribers.csv") -> Path:
    """rows as (email, themes cell); names are made from the address."""
    path = root / name
    lines = ["email,name,themes"] + [f'{email},"{email.split("@")[0].title()}","{themes}"' for email, themes in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def send(config: Config, build: BuildResult, csv: Path, **options: object) -> SendReport:
    """prepare + send through the embedded outbox, as the CLI does after confirming."""
    plan = plan_send(config, build, csv, **options)
    return send_issue(plan, handle_signals=False)


def build(config: Config, month: str = "2023-07") -> BuildResult:
    return build_issue(config, parse_range(month, None, None))


@dataclass(frozen=True)
class Received:
    """One delivered message, parsed as a mail client would."""

    to: str
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()  # type: ignore[union-attr]

    @property
    def sections(self) -> list[str]:
        """The section headings of the text part (`== ONLINE SAFETY ==`), in order."""
        return re.findall(r"^== (.+) ==$", self.text, re.MULTILINE)

    @property
    def html_sections(self) -> list[str]:
        """The `<h2>` headings that open sections (the contents heading aside)."""
        return [h for h in re.findall(r'<h2 id="theme-[^"]*"[^>]*>(.*?)</h2>', self.html)]

    @property
    def toc(self) -> list[str]:
        block = self.text.split("IN THIS ISSUE\n", 1)[1].split("\n\n", 1)[0]
        return [line[2:].rsplit(": ", 1)[0] for line in block.splitlines()]  # "- Neglect: 2 items"


def outbox(config: Config) -> dict[str, list[Received]]:
    """Every message in outbox/new/, by the address it was delivered to."""
    found: dict[str, list[Received]] = {}
    box = mailbox.Maildir(str(config.outbox_dir), create=False)
    for key in box.iterkeys():
        raw = box.get_bytes(key)
        message = message_from_bytes(raw, policy=policy.default)
        to = str(message["Delivered-To"]).lower()
        found.setdefault(to, []).append(Received(to, message))  # type: ignore[arg-type]
    return found
