"""The unsubscribe pages: one-click unsubscribe (RFC 8058), confirm, resubscribe.

Served at the path of `unsubscribe.url` (default `/unsubscribe`), with the token in
`?t=`. `GET` only shows a page (mail scanners follow links, so it never changes state);
`POST` with `List-Unsubscribe=One-Click` (the mail client's button) or from the page's
button unsubscribes at once. A bad token of any kind gets the same generic page.
"Resubscribe" is offered only for what the subscriber did (SUBSCRIBER_SOURCES): a hard
bounce, a complaint or an officer's entry stays, because an old or forwarded email must
not bring a dead or unwilling address back; the page says how to get in touch instead.
Pressing it lifts nothing: it records a new request and mails a confirmation link to the
address (double opt-in, as on the sign-up page). Each new unsubscribe is also a record
in the consent history (journal/consent.py).
No cookies, no login, no CSRF token: RFC 8058 wants a plain POST, and the token itself
is the proof. Unsubscribes land in the state file's suppression list that `send` reads.

To add a page, write `async def page(request)` that calls `site_of(request)` (in
`pages.py`) for the `SubscriberSite` (token check, state file, templates) and add its
routes in `app.routes()`.
"""

from __future__ import annotations

import logging
from email.utils import parseaddr

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter import journal
from newsletter.audience import record_request
from newsletter.config import Config
from newsletter.journal import SuppressionReason
from newsletter.send import SignupMail, signup_settings
from newsletter.site.languages import language_switch, query_language, reader_language
from newsletter.site.pages import SubscriberSite, read_form, site_of, token_of, unsubscribe_path
from newsletter.site.preferences import topics_link
from newsletter.tokens import PROBE_ADDRESS, PROBE_HEADER

__all__ = ["SUBSCRIBER_SOURCES", "unsubscribe_routes"]

# Suppressions the subscriber made themselves: this page (one-click, its button) or their
# own email (`newsletter suppress add`, source mailto). Only these can be undone here.
SUBSCRIBER_SOURCES = ("one-click", "web", "mailto")
log = logging.getLogger("newsletter.unsubscribe")


async def _speaking(site: SubscriberSite, request: Request, email: str | None = None) -> SubscriberSite:
    """The site in the language a `?lang=` link asks for, else the reader's (chosen on the
    site, else the last send's, else the config's); display only."""
    asked = query_language(request, site.config)
    if asked or email is None or len(site.config.languages) < 2:
        return site.speaking(asked)
    return site.speaking(await site.run(lambda db: reader_language(db, email, site.config)))


def _page(site: SubscriberSite, request: Request, name: str, *, status: int = 200, **context: object) -> HTMLResponse:
    """`unsubscribe/<name>.html` with links to the same page in the list's other languages."""
    return site.page(name, status=status, switch=language_switch(request, site.config, site.config.language),
                     **context)


async def unsubscribe_page(request: Request) -> Response:
    """GET: the confirmation page (or the done page if already unsubscribed); no writes."""
    site = site_of(request)
    token = token_of(request)
    email = site.address(token)
    if email is None or token is None:
        return (await _speaking(site, request)).invalid()
    site = await _speaking(site, request, email)
    suppression = await site.run(lambda db: journal.get_suppression(db, email))
    if suppression is not None:
        return _done(site, request, email, token, suppression)
    return _page(site, request, "confirm", email=email, token=token, topics=topics_link(site.config, token))


def _own(suppression: journal.Suppression) -> bool:
    return suppression.reason == SuppressionReason.UNSUBSCRIBED and suppression.source in SUBSCRIBER_SOURCES


def _done(site: SubscriberSite, request: Request, email: str, token: str,
          suppression: journal.Suppression | None) -> Response:
    """The "you are unsubscribed" page: with "Resubscribe" only if they did it themselves
    (pressing it mails a confirmation link: coming back is double opt-in again)."""
    config = site.config
    contact = parseaddr(config.reply_to)[1] if config.reply_to else config.sender_address
    own = suppression is None or _own(suppression)
    return _page(site, request, "done", email=email, token=token, can_resubscribe=own, contact=contact)


async def unsubscribe_action(request: Request) -> Response:
    """POST: one-click (`List-Unsubscribe=One-Click`), the page's button, or resubscribe."""
    site = site_of(request)
    form = await read_form(request)
    token = token_of(request, form)
    email = site.address(token)
    if email is None or token is None:
        return (await _speaking(site, request)).invalid()
    if email == PROBE_ADDRESS:  # `newsletter doctor --online`: the link works, nobody leaves
        return PlainTextResponse("probe ok: nobody was unsubscribed\n", headers={PROBE_HEADER: "ok"})
    action = form.get("action")
    site = await _speaking(site, request, email)
    if action == "resubscribe":
        return await _resubscribe(site, request, email, token)
    # Anything else with a valid token is an unsubscribe: the page's button says so, and
    # a one-click POST is honoured even if a client garbles the List-Unsubscribe body.
    source = "web" if action == "unsubscribe" else "one-click"
    suppression = await site.run(lambda db: _suppress(db, email, source))
    log.info("unsubscribed (%s)", source)
    return _done(site, request, email, token, suppression)


async def _resubscribe(site: SubscriberSite, request: Request, email: str, token: str) -> Response:
    """"Resubscribe": a new request, confirmed by the link mailed to the address, never
    lifted here (an old or forwarded issue must not bring anyone back unasked)."""
    suppression = await site.run(lambda db: journal.get_suppression(db, email))
    if suppression is not None and not _own(suppression):
        log.info("resubscribe refused: suppressed by %s", suppression.reason)
        return _done(site, request, email, token, suppression)
    if suppression is None:  # not unsubscribed (any more): nothing to do
        return _page(site, request, "confirm", email=email, token=token, topics=topics_link(site.config, token))
    settings = signup_settings(site.config)
    config = site.config

    def record(db: journal.Db) -> int:
        before = journal.get_signup(db, email)
        language = reader_language(db, email, config) if len(config.languages) > 1 else None
        asked = journal.SignupRequest(email, before.name if before else "", before.themes if before else None,
                                      "resubscribe", settings.consent, language)  # their mail in their language
        return record_request(db, asked).id

    request_id = await site.run(record)
    if site.mailer is not None:
        site.mailer.submit(SignupMail("confirm", request_id))
    log.info("resubscribe requested via the web page: confirmation mail queued")
    return _page(site, request, "resubscribed", email=email, token=token)


UNSUBSCRIBE_WORDING = {"web": "Unsubscribe (button on the unsubscribe page)",
                       "one-click": "List-Unsubscribe=One-Click (the mail client's unsubscribe)"}


def _suppress(db: journal.Db, email: str, source: str) -> journal.Suppression | None:
    """Add the unsubscribe (an earlier suppression is kept as it is), record it in the
    consent history when it is new, and return what is stored."""
    if journal.suppress(db, email, SuppressionReason.UNSUBSCRIBED, source):
        journal.record_consent_event(db, email, "unsubscribed", wording=UNSUBSCRIBE_WORDING.get(source, ""),
                                     source=source)
    return journal.get_suppression(db, email)


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


