"""The unsubscribe pages: one-click unsubscribe (RFC 8058), confirm, resubscribe.

Served at the path of `unsubscribe.url` (default `/unsubscribe`), with the token in
`?t=`. `GET` only shows a page (mail scanners follow links, so it never changes state);
`POST` with `List-Unsubscribe=One-Click` (the mail client's button) or from the page's
button unsubscribes at once. A bad token of any kind gets the same generic page.
No cookies, no login, no CSRF token: RFC 8058 wants a plain POST, and the token itself
is the proof. Unsubscribes land in the state file's suppression list that `send` reads.

To add a page, write `async def page(request)` that calls `site_of(request)` (in
`pages.py`) for the `SubscriberSite` (token check, state file, templates) and add its
routes in `app.routes()`.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter import journal
from newsletter.config.loader import Config
from newsletter.site.pages import read_form, site_of, token_of, unsubscribe_path
from newsletter.site.preferences import topics_link
from newsletter.tokens import PROBE_ADDRESS, PROBE_HEADER

__all__ = ["unsubscribe_routes"]

UNSUBSCRIBED = "unsubscribed"  # the suppression reason for every web unsubscribe
log = logging.getLogger("newsletter.unsubscribe")


async def unsubscribe_page(request: Request) -> Response:
    """GET: the confirmation page (or the done page if already unsubscribed); no writes."""
    site = site_of(request)
    token = token_of(request)
    email = site.address(token)
    if email is None:
        return site.invalid()
    suppressed = await site.run(lambda db: journal.is_suppressed(db, email))
    return site.page("done" if suppressed else "confirm", email=email, token=token,
                     topics=topics_link(site.config, token))


async def unsubscribe_action(request: Request) -> Response:
    """POST: one-click (`List-Unsubscribe=One-Click`), the page's button, or resubscribe."""
    site = site_of(request)
    form = await read_form(request)
    token = token_of(request, form)
    email = site.address(token)
    if email is None:
        return site.invalid()
    if email == PROBE_ADDRESS:  # `newsletter doctor --online`: the link works, nobody leaves
        return PlainTextResponse("probe ok: nobody was unsubscribed\n", headers={PROBE_HEADER: "ok"})
    action = form.get("action")
    if action == "resubscribe":
        await site.run(lambda db: journal.unsuppress(db, email))
        log.info("resubscribed via the web page")
        return site.page("resubscribed", email=email, token=token)
    # Anything else with a valid token is an unsubscribe: the page's button says so, and
    # a one-click POST is honoured even if a client garbles the List-Unsubscribe body.
    source = "web" if action == "unsubscribe" else "one-click"
    await site.run(lambda db: journal.suppress(db, email, UNSUBSCRIBED, source))
    log.info("unsubscribed (%s)", source)
    return site.page("done", email=email, token=token)


async def healthz(request: Request) -> Response:
    """For the reverse proxy or a monitor: the app is up and the state file opens."""
    await site_of(request).run(lambda db: db.execute("SELECT 1").fetchone())
    return PlainTextResponse("ok\n")


def unsubscribe_routes(config: Config) -> list[BaseRoute]:
    path = unsubscribe_path(config)
    return [
        Route(path, unsubscribe_page, methods=["GET"]),
        Route(path, unsubscribe_action, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]


