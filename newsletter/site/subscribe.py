"""The sign-up page (double opt-in): form, "check your inbox", and the confirmation link.

Served at the path of `subscribe.url` (no `subscribe:` block, no page) and its
`/confirm` below it. `GET` shows the form with a signed stamp of when it was shown;
`POST` records a pending sign-up and mails a confirmation link (signed, expiring) in the
background, then always answers "check your inbox", known address or not, mailed or not,
so the page tells nobody who is on the list. Bots meet a hidden honeypot field (filled:
the same answer, nothing done), the stamp (missing, as from the pasted snippet, or too
recent: the form is shown again, filled in, to press once more), a per-client limit
counted by a keyed hash of the client's address, and at most one mail per address an
hour (audience/signups.py). `GET` on the link shows a Confirm button and changes nothing
(mail scanners follow links); `POST` confirms, idempotently. Every bad, forged or expired
link gets the same page.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter import journal
from newsletter.audience import confirm, forget_expired, read_request, request_signup
from newsletter.config import Config, SubscribeConfig
from newsletter.errors import ConfigError
from newsletter.issue import template_environment
from newsletter.send import Confirmation, send_confirmation
from newsletter.site.pages import SubscriberSite, site_of, token_of
from newsletter.tokens import client_key, make_link_token, make_stamp, read_link_token, read_stamp

__all__ = ["confirm_path", "render_snippet", "subscribe_path", "subscribe_routes"]

log = logging.getLogger("newsletter.unsubscribe")
_FIELDS = ("email", "name", "source", "stamp", "website")


def subscribe_path(config: Config) -> str | None:
    """The path the page answers on: that of `subscribe.url`; None without a `subscribe:` block."""
    if config.subscribe is None:
        return None
    return urlsplit(config.subscribe.url).path.rstrip("/") or "/"


def confirm_path(config: Config) -> str | None:
    """Where confirmation links point, below the page: `/subscribe/confirm`."""
    path = subscribe_path(config)
    return None if path is None else f"{path.rstrip('/')}/confirm"


def _settings(site: SubscriberSite) -> SubscribeConfig:
    assert site.config.subscribe is not None  # the routes exist only with the block
    return site.config.subscribe


def _form_page(site: SubscriberSite, *, status: int = 200, values: dict[str, Any] | None = None,
               source: str = "page", problem: str | None = None, again: bool = False) -> HTMLResponse:
    config = site.config
    return site.render("subscribe/form.html", status=status, action=subscribe_path(config),
                       stamp=make_stamp(site.keys()[0], config.list_id, int(time.time())), source=source,
                       themes=config.themes, values=values or {"email": "", "name": "", "themes": ()},
                       consent=_settings(site).consent, problem=problem, again=again)


def _invalid(site: SubscriberSite) -> HTMLResponse:
    """The one answer to every bad confirmation link: no hint whether forged or expired."""
    return site.render("subscribe/invalid.html", status=400, signup=subscribe_path(site.config))


async def _read(request: Request, config: Config) -> FormData | None:
    try:
        return await request.form(max_files=0, max_fields=len(config.themes) + len(_FIELDS) + 2,
                                  max_part_size=4096)
    except HTTPException:
        return None


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def subscribe_page(request: Request) -> Response:
    """GET: the sign-up form; never writes."""
    return _form_page(site_of(request))


async def subscribe_action(request: Request) -> Response:
    """POST: check the bot traps, record the request, mail the link in the background."""
    site = site_of(request)
    config, settings = site.config, _settings(site)
    form = await _read(request, config)
    if form is None:
        return _form_page(site, status=400, problem="The form could not be read. Please try again.")
    email, name = _text(form, "email"), _text(form, "name")
    themes = tuple(t for t in form.getlist("theme") if isinstance(t, str))
    values: dict[str, Any] = {"email": email, "name": name, "themes": themes}
    source = _text(form, "source")
    if _text(form, "website"):
        log.info("sign-up refused: honeypot filled")
        return site.render("subscribe/check.html", email=email)
    shown = read_stamp(_text(form, "stamp"), config.list_id, site.keys())
    if shown is None or time.time() - shown < settings.min_seconds:
        return _form_page(site, values=values, source=source, again=True)
    try:
        signup = read_request(config, email, name, themes, source)
    except ValueError as exc:
        return _form_page(site, status=400, values=values, source=source,
                          problem=f"Please enter a valid email address ({exc}).")
    client = client_key(site.keys()[0], request.client.host if request.client else "")
    allowed = await site.run(lambda db: journal.count_client(db, client, at=time.time(), limit=settings.client_limit))
    if not allowed:
        log.info("sign-up refused: client over its hourly limit")
        limited = site.render("subscribe/limited.html", status=429)
        limited.headers["Retry-After"] = "3600"
        return limited
    def record(db: sqlite3.Connection) -> str | None:
        forget_expired(db, settings.expires_days)  # unconfirmed addresses go when their link expires
        return request_signup(db, signup)

    nonce = await site.run(record)
    task = None if nonce is None else BackgroundTask(_mail, site, signup.email, nonce)
    response = site.render("subscribe/check.html", email=signup.email)
    response.background = task
    return response


async def _mail(site: SubscriberSite, email: str, nonce: str) -> None:
    """Mail the confirmation link, after the answer went out (its timing says nothing)."""
    config, settings = site.config, _settings(site)
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=settings.expires_days)
    token = make_link_token(site.keys()[0], config.list_id, email, nonce, int(expires.timestamp()))
    link = f"{_origin(settings.url)}{confirm_path(config)}?t={quote(token, safe='')}"
    problem = await send_confirmation(config, Confirmation(email, link, expires))
    if problem:
        log.warning("confirmation mail not sent: %s", problem)
    else:
        log.info("confirmation mail sent")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _link(site: SubscriberSite, token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    return read_link_token(token, site.config.list_id, site.keys(), now=time.time())


async def confirm_page(request: Request) -> Response:
    """GET on the mailed link: a Confirm button; changes nothing."""
    site = site_of(request)
    token = token_of(request)
    link = _link(site, token)
    if link is None:
        return _invalid(site)
    email, nonce = link
    signup = await site.run(lambda db: journal.get_signup(db, email))
    if signup is None or signup.nonce != nonce:
        return _invalid(site)
    return site.render("subscribe/confirm.html", email=email, token=token)


async def confirm_action(request: Request) -> Response:
    """POST from the Confirm button: confirm (again: same answer, nothing changes)."""
    site = site_of(request)
    form = await _read(request, site.config)
    link = _link(site, token_of(request, form))
    if link is None:
        return _invalid(site)
    email, nonce = link
    signup = await site.run(lambda db: confirm(db, email, nonce))
    if signup is None:
        return _invalid(site)
    log.info("sign-up confirmed (%s)", signup.source)
    return site.render("subscribe/confirmed.html", email=email)


def subscribe_routes(config: Config) -> list[BaseRoute]:
    """The page's routes, for the subscriber site; none without a `subscribe:` block."""
    path, confirming = subscribe_path(config), confirm_path(config)
    if path is None or confirming is None:
        return []
    return [
        Route(path, subscribe_page, methods=["GET"]),
        Route(path, subscribe_action, methods=["POST"]),
        Route(confirming, confirm_page, methods=["GET"]),
        Route(confirming, confirm_action, methods=["POST"]),
    ]


def render_snippet(config: Config) -> str:
    """The form as HTML to paste into the charity's own website, posting to `subscribe.url`.

    It has the same fields, honeypot and consent wording as the page, but no stamp (it is
    static), so its first post shows the page's form again, filled in, to press once more.
    """
    if config.subscribe is None:
        raise ConfigError("no sign-up page: the config has no `subscribe:` block", path=config.path,
                          hint='add `subscribe: {url: "https://example.org/subscribe"}` and serve it '
                               "with `newsletter serve`")
    template = template_environment(config).get_template("subscribe/snippet.html")
    return template.render(name=config.name, action=config.subscribe.url, themes=config.themes,
                           values={"email": "", "name": "", "themes": ()}, consent=config.subscribe.consent)
