"""The subscriber site: the pages a subscriber reaches from the email.

Takes the `Config` and the token keys; `create_app` serves the sign-up page (double
opt-in), one-click unsubscribe (RFC 8058) with its confirm and done pages, and the
"Manage your topics" page, writing sign-ups, opt-outs and choices to the journal.
A GET never changes state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.site.app import AddressRedactor, TokenRedactor, create_app
    from newsletter.site.clicks import ClickCounter
    from newsletter.site.linkcheck import check_counted_links
    from newsletter.site.pages import unsubscribe_path
    from newsletter.site.preferences import preferences_path
    from newsletter.site.serving import RepeatFilter, server_config
    from newsletter.site.subscribe import render_snippet, subscribe_path

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "AddressRedactor": "newsletter.site.app",
    "check_counted_links": "newsletter.site.linkcheck",
    "ClickCounter": "newsletter.site.clicks",
    "create_app": "newsletter.site.app",
    "preferences_path": "newsletter.site.preferences",
    "render_snippet": "newsletter.site.subscribe",
    "RepeatFilter": "newsletter.site.serving",
    "server_config": "newsletter.site.serving",
    "subscribe_path": "newsletter.site.subscribe",
    "TokenRedactor": "newsletter.site.app",
    "unsubscribe_path": "newsletter.site.pages",
}

__all__ = [
    "AddressRedactor",
    "check_counted_links",
    "ClickCounter",
    "create_app",
    "preferences_path",
    "render_snippet",
    "RepeatFilter",
    "server_config",
    "subscribe_path",
    "TokenRedactor",
    "unsubscribe_path",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
