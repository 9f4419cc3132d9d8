"""Helpers for the send tests: a sample project pointed at a test SMTP server, a CSV, a run."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter import journal
from newsletter.audience import resolve
from newsletter.config import Config, load_config
from newsletter.issue import BuildResult
from newsletter.send import SendPlan, SendReport, prepare_send, send_issue
from support.project import REPO
from support.smtpserver import SmtpServer

SECRET = "test-token-secret"

# Fast retries and a short fuse, so fault tests take fractions of a second.
FAST = {"security": "none", "concurrency": 2, "retry_delay": 0.01, "retries": 3,
        "max_connection_failures": 3, "timeout": 2}


@pytest.fixture
def token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token secret in the environment, as for a real send (a module opts in with
    `pytestmark = pytest.mark.usefixtures("token_secret")`)."""
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", SECRET)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    """A fresh aiosmtpd server on 127.0.0.1 for one test."""
    with SmtpServer() as srv:
        yield srv


def make_project(root: Path, *, smtp: dict[str, Any] | None = None, extra: str = "") -> Config:
    """The bundled sample config (and items) in `root`, with an `smtp:` block when given."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "items").exists():
        shutil.copytree(REPO / "items", root / "items")
    text = (REPO / "newsletter.yaml").read_text(encoding="utf-8")
    if smtp is not None:
        text += "smtp:\n" + "".join(f"  {k}: {v}\n" for k, v in smtp.items())
    (root / "newsletter.yaml").write_text(text + extra, encoding="utf-8")
    return load_config(root / "newsletter.yaml")


def smtp_block(port: int, **overrides: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, **FAST, **overrides}


def write_csv(root: Path, rows: list[tuple[str, str]] | int, name: str = "subscribers.csv") -> Path:
    """rows as (email, name), or a count of generated `user<i>@example.org` rows."""
    if isinstance(rows, int):
        rows = [(f"user{i}@example.org", f"User {i}") for i in range(rows)]
    path = root / name
    lines = ["email,name"] + [f'{email},"{person}"' for email, person in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def plan_send(config: Config, build: BuildResult, csv: Path, *, strict: bool = False, **options: Any) -> SendPlan:
    """The audience resolved from `csv` and the journal, then the plan, as `newsletter send` makes them."""
    with contextlib.closing(journal.connect(config.state)) as db:
        audience = resolve(config, csv, db, strict=strict)
    return prepare_send(config, build, audience, **options)


def send(config: Config, build: BuildResult, csv: Path, **options: Any) -> SendReport:
    """prepare + send, as the CLI does after confirmation (no signal handlers in tests)."""
    plan = plan_send(config, build, csv, **options)
    return send_issue(plan, handle_signals=False)


def states(config: Config, slug: str = "2023-07") -> dict[str, str]:
    """email -> state of the run's recipients, from whichever state the config uses."""
    db = journal.connect(config.state)
    try:
        run = journal.get_run(db, slug)
        assert run is not None
        return journal.recipient_states(db, run.id)
    finally:
        db.close()


def rows(config: Config, slug: str = "2023-07",
         kind: journal.RunKind = journal.RunKind.REAL) -> dict[str, journal.RecipientRow]:
    db = journal.connect(config.state)
    try:
        run = journal.get_run(db, slug, kind)
        assert run is not None
        return {r.key: r for r in journal.run_recipients(db, run.id)}
    finally:
        db.close()
