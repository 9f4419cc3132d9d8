"""The preview: the officer's browser view of an issue, rebuilt live.

Takes the `Config` and a `DateRange`; `LiveBuild` rebuilds with the very same build
whenever an item, template or the config changes, and `create_app` serves it (desktop,
mobile, dark, text views, checks, the local outbox, test sends) on 127.0.0.1.
"""

from __future__ import annotations

from newsletter.preview.app import create_app
from newsletter.preview.livebuild import LiveBuild

__all__ = ["LiveBuild", "create_app"]
