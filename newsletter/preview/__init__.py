"""The preview: the officer's browser view of an issue, rebuilt live.

Takes the `Config` and a `DateRange`; `LiveBuild` rebuilds with the very same build
whenever an item, template or the config changes, and `create_app` serves it (desktop,
mobile, dark, text views, checks, the local outbox, test sends) on 127.0.0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from newsletter import load_face

if TYPE_CHECKING:
    from newsletter.preview.app import create_app
    from newsletter.preview.livebuild import LiveBuild, error_infos
    from newsletter.preview.outlook import outlook_view
    from newsletter.preview.server import listen, make_server, open_socket

# name -> the module that defines it, imported on first use (PEP 562), so that importing
# one name loads only what that name needs.
_EXPORTS = {
    "create_app": "newsletter.preview.app",
    "error_infos": "newsletter.preview.livebuild",
    "listen": "newsletter.preview.server",
    "LiveBuild": "newsletter.preview.livebuild",
    "make_server": "newsletter.preview.server",
    "open_socket": "newsletter.preview.server",
    "outlook_view": "newsletter.preview.outlook",
}

__all__ = [
    "create_app",
    "error_infos",
    "listen",
    "LiveBuild",
    "make_server",
    "open_socket",
    "outlook_view",
]


def __getattr__(name: str) -> object:
    return load_face(__name__, _EXPORTS, name)
