"""Debian's Chromium through Playwright, launched once per session; pages that may load
file:// and 127.0.0.1 only."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


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
