"""Fixtures and helpers for a newsletter project in a temp folder: a copy of the bundled
sample, an empty one for crafted items, item-file writers, an ASGI server on 127.0.0.1."""

from __future__ import annotations

import shutil
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Config, load_config

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def copy_sample(root: Path) -> Path:
    """The bundled sample's config and items copied into a new folder `root` (returned)."""
    root.mkdir()
    shutil.copy(REPO / "newsletter.yaml", root / "newsletter.yaml")
    shutil.copytree(REPO / "items", root / "items")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the bundled sample newsletter (config, items, example subscribers)."""
    root = copy_sample(tmp_path / "digest")
    shutil.copy(REPO / "subscribers.example.csv", root / "subscribers.csv")
    return root


@pytest.fixture
def config(project: Path) -> Config:
    return load_config(project / "newsletter.yaml")


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    """The sample config with an empty items/ folder, for crafted items."""
    root = tmp_path / "crafted"
    (root / "items").mkdir(parents=True)
    shutil.copy(REPO / "newsletter.yaml", root / "newsletter.yaml")
    return root


@pytest.fixture
def write_item(empty_project: Path) -> Callable[..., Path]:
    """Write an item file from YAML text (dedented) into the crafted project's items/."""

    def write(text: str, name: str = "item.yaml") -> Path:
        path = empty_project / "items" / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


def item_yaml(title: str = "A briefing on neglect", date: str = "2023-07-10",
              theme: str = "Neglect", url: str = "https://example.org/a", **extra: str) -> str:
    """One valid item as YAML text; keyword arguments add or replace top-level lines."""
    lines = {
        "title": title,
        "date": date,
        "source": "Example Source",
        "theme": theme,
        "summary": "A short summary of the briefing.",
    }
    lines.update(extra)
    body = "".join(f"{k}: {v}\n" for k, v in lines.items())
    return body + f"links:\n  - label: Read the briefing\n    title: The briefing\n    url: {url}\n"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests keep screenshots and other artifacts (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn on 127.0.0.1, a free port, in a thread.

    Yields the base URL (`http://127.0.0.1:PORT`); stops the server on exit.
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def set_token_secret(monkeypatch: pytest.MonkeyPatch, config: Config, secret: bytes) -> Config:
    """`secret` as the config's token secret in the environment, and no old (rotated) ones."""
    monkeypatch.setenv(config.secret_env, secret.decode())
    monkeypatch.delenv(config.old_secrets_env or "NEWSLETTER_TOKEN_SECRET_OLD", raising=False)
    return config
