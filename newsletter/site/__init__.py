"""The subscriber site: the pages a subscriber reaches from the email.

Takes the `Config` and the token keys; `create_app` serves the sign-up page (double
opt-in), one-click unsubscribe (RFC 8058) with its confirm and done pages, and the
"Manage your topics" page, writing sign-ups, opt-outs and choices to the journal.
A GET never changes state.
"""

from __future__ import annotations

from newsletter.site.app import create_app

__all__ = ["create_app"]
