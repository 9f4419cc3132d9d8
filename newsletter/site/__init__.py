"""The subscriber site: the pages a subscriber reaches from the email.

Takes the `Config` and the token keys; `create_app` serves one-click unsubscribe
(RFC 8058), its confirm and done pages, and the "Manage your topics" page, writing
opt-outs and choices to the journal. A GET never changes state.
"""

from __future__ import annotations

from newsletter.site.app import create_app

__all__ = ["create_app"]
