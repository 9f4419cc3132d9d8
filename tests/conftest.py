"""Shared fixtures: a copy of the sample project in a temp folder, item-file writers."""

from __future__ import annotations

import concurrent.futures
import shutil
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from newsletter.config.loader import Config, load_config

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

REPO = Path(__file__).resolve().parent.parent
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


# --- Chromium (Playwright), one per session ------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last (in their order), after every other test.

    The session's Playwright keeps its asyncio loop marked as running in the main thread
    from its first use to the end, so `asyncio.run()` in a later test would fail there.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, launched once and shared: tests open their own contexts/pages."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _local_only(route: Route) -> None:
    if route.request.url.startswith(("file://", "http://127.0.0.1:")):
        route.continue_()
    else:
        route.abort()  # remote images and the like: never leave the machine


def local_context(browser: Browser, **options: Any) -> BrowserContext:
    """A new context of `browser` that may load file:// and 127.0.0.1 only (all else aborted)."""
    context = browser.new_context(**options)
    context.route("**/*", _local_only)
    return context


def in_own_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `func` in a fresh thread, for code that calls `asyncio.run()` (e.g. a send) from a
    browser test: the session's Playwright keeps its loop marked as running in this thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args, **kwargs).result()


@contextmanager
def local_page(browser: Browser, **options: Any) -> Iterator[Page]:
    """A page in its own `local_context`, closed with its context on the way out."""
    context = local_context(browser, **options)
    try:
        yield context.new_page()
    finally:
        context.close()


def record_traffic(page: Page) -> tuple[list[str], list[str]]:
    """From now on, the URLs `page` requests and the texts of its console messages."""
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(m.text))
    return requests, console


def set_token_secret(monkeypatch: pytest.MonkeyPatch, config: Config, secret: bytes) -> Config:
    """`secret` as the config's token secret in the environment, and no old (rotated) ones."""
    monkeypatch.setenv(config.secret_env, secret.decode())
    monkeypatch.delenv(config.old_secrets_env or "NEWSLETTER_TOKEN_SECRET_OLD", raising=False)
    return config
