"""The test suite mirrors the packages (tests/issue/ for newsletter/issue/, ...); browser
tests live in tests/browser/ and run last. Fixtures and helpers live in tests/support/,
registered here once."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "support.project",
    "support.browser",
    "support.sendkit",
    "support.feedserver",
    "support.previewkit",
    "support.themekit",
    "support.dnsserver",
    "support.smtpserver",
    "support.imapserver",
    "support.signupkit",
    "support.rawsmtp",
    "support.clickkit",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last (in their order), after every other test.

    The session's Playwright keeps its asyncio loop marked as running in the main thread
    from its first use to the end, so `asyncio.run()` in a later test would fail there.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
