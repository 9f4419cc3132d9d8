"""The sign-up page (double opt-in): form, "check your inbox", and the confirmation link.

Served at the path of `subscribe.url` (no `subscribe:` block, no form) and its
`/confirm` below it (without the block, below `unsubscribe.url`, for "Resubscribe").
`GET` shows the form with a signed stamp of when it was shown. `POST` is refused from
another website (an `Origin` that is neither ours nor in `allowed_origins`); bots meet a
hidden honeypot (filled: the same answer, nothing done) and the stamp (missing, used,
over an hour old or too recent: the form again, filled in, to press once more; an
allowed origin's pasted form needs none). Then the work is the same for every address:
spend the stamp, count the client's network (IPv4 address, IPv6 /64) by a keyed hash,
append the request, queue its mail, answer "check your inbox". Whether a mail goes is
decided afterwards by the background sender (send/signupmail.py), so neither the words
nor the timing tell anybody who is on the list. `GET` on the link shows a Confirm button
and changes nothing (mail scanners follow links); `POST` confirms, idempotently. Every
bad, forged, expired or superseded link gets the same page.
"""

from __future__ import annotations

import gettext
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter import journal
from newsletter.audience import client_network, confirm, read_request, record_request
from newsletter.config import Config, SubscribeConfig, translations
from newsletter.errors import ConfigError
from newsletter.issue import template_environment
from newsletter.send import SignupMail, confirm_link_base, signup_settings
from newsletter.site.languages import (
    accepted_language,
    form_language,
    language_options,
    language_switch,
    offered,
    query_language,
)
from newsletter.site.pages import SubscriberSite, site_of, token_of
from newsletter.tokens import client_key, erasure_key, make_stamp, read_link_token, read_stamp

__all__ = ["confirm_path", "render_snippet", "subscribe_path", "subscribe_routes"]

log = logging.getLogger("newsletter.unsubscribe")
_FIELDS = ("email", "name", "source", "stamp", "website", "language")
STAMP_MAX_AGE = 3600  # seconds a form's stamp is good for; and each is good for one post


def subscribe_path(config: Config) -> str | None:
    """The path the page answers on: that of `subscribe.url`; None without a `subscribe:` block."""
    if config.subscribe is None:
        return None
    return urlsplit(config.subscribe.url).path.rstrip("/") or "/"


def confirm_path(config: Config) -> str:
    """Where confirmation links point, below the page: `/subscribe/confirm` (without a
    sign-up page, below the unsubscribe page, for "Resubscribe")."""
    return urlsplit(confirm_link_base(config)).path


def _settings(site: SubscriberSite) -> SubscribeConfig:
    return signup_settings(site.config)


def _form_page(site: SubscriberSite, request: Request, *, status: int = 200, values: dict[str, Any] | None = None,
               source: str = "page", problem: str | None = None, again: bool = False,
               chosen: str | None = None) -> HTMLResponse:
    """The form in `site`'s language, with `chosen` (else the page's language) ticked."""
    config = site.config
    ticked = chosen or config.language
    page = site.render("subscribe/form.html", status=status, action=subscribe_path(config),
                       stamp=make_stamp(site.keys()[0], config.list_id, int(time.time())), source=source,
                       themes=config.themes, values=values or {"email": "", "name": "", "themes": ()},
                       consent=_settings(site).consent, problem=problem, again=again,
                       languages=language_options(config, ticked) if offered(config) else [],
                       switch=language_switch(request, config, config.language))
    # no token in this page's address, and with "no-referrer" browsers post its form with
    # `Origin: null`, which the Origin check must refuse (sandboxed frames send it too)
    page.headers["Referrer-Policy"] = "same-origin"
    return page


def _invalid(site: SubscriberSite, request: Request) -> HTMLResponse:
    """The one answer to every bad confirmation link: no hint whether forged or expired."""
    site = site.speaking(query_language(request, site.config))
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


def _page_language(request: Request, config: Config) -> str:
    """The sign-up page's language: a `?lang=` link's, else the browser's first that the list
    offers, else the config's `language`."""
    if not offered(config):
        return config.language
    return (query_language(request, config) or accepted_language(config, request.headers.get("accept-language", ""))
            or config.language)


async def subscribe_page(request: Request) -> Response:
    """GET: the sign-up form, in the visitor's language; never writes."""
    site = site_of(request)
    return _form_page(site.speaking(_page_language(request, site.config)), request)


def _words(config: Config) -> gettext.NullTranslations:
    """The page's own messages in the list's language."""
    return translations(config.language, config.locale_dir)


def _origin_of(request: Request, site: SubscriberSite) -> str | None:
    """Where the form was posted from: "" for our own page (or a client that sends no
    Origin: browsers always send one on a cross-site POST), the origin when it is in
    `allowed_origins`, None when it is another site's (refused). Comparing with `Host` is
    safe: the browser sets both, a page elsewhere cannot make them agree."""
    origin = request.headers.get("origin")
    if origin is None:
        return ""
    origin = origin.strip().lower().rstrip("/")
    if origin == "null":  # a sandboxed frame, a data: page, a no-referrer page: nobody we know
        return None
    settings = _settings(site)
    host = request.headers.get("host", "").lower()
    if origin == _origin(settings.url).lower() or (host and urlsplit(origin).netloc == host):
        return ""  # our own page, by its configured address or by the address the browser used
    return origin if origin in settings.allowed_origins else None


def _stamp_ok(site: SubscriberSite, stamp: str, now: float) -> bool:
    """A genuine stamp, shown at least `min_seconds` and at most STAMP_MAX_AGE ago."""
    shown = read_stamp(stamp, site.config.list_id, site.keys())
    return shown is not None and _settings(site).min_seconds <= now - shown <= STAMP_MAX_AGE


async def subscribe_action(request: Request) -> Response:
    """POST: check where it came from and the bot traps, append the request, queue its mail.

    From here on the work is the same for every address (member, stranger, bounced,
    pending): one spent stamp, one client count, one appended request, one queued mail.
    Whether a mail goes is decided later, by the background sender (send/signupmail.py).
    """
    site = site_of(request)
    form = await _read(request, site.config)
    chosen, known = form_language(form, site.config) if form is not None else (None, True)
    site = site.speaking(chosen or _page_language(request, site.config))  # every answer in their language
    config, settings = site.config, _settings(site)
    if form is None:
        return _form_page(site, request, status=400,
                          problem=_words(config).gettext("The form could not be read. Please try again."))
    origin = _origin_of(request, site)
    if origin is None:
        log.info("sign-up refused: posted from another website")
        return _form_page(site, request, status=403, problem=_words(config).gettext(
                              "This form was sent from another website. To subscribe, please fill it in here."))
    email, name = _text(form, "email"), _text(form, "name")
    themes = tuple(t for t in form.getlist("theme") if isinstance(t, str))
    values: dict[str, Any] = {"email": email, "name": name, "themes": themes}
    source = "snippet" if origin else _text(form, "source")
    if _text(form, "website"):
        log.info("sign-up refused: honeypot filled")
        return site.render("subscribe/check.html", email=email)
    if not known:  # a language the list does not offer: never stored, never guessed
        log.info("sign-up refused: unknown language")
        return _form_page(site, request, status=400, values=values, source=source, problem=_words(config).gettext(
            "Please choose one of the languages offered."))
    stamp, now = _text(form, "stamp"), time.time()
    if not origin and not _stamp_ok(site, stamp, now):  # an allowed site's pasted form has no stamp
        return _form_page(site, request, values=values, source=source, again=True, chosen=chosen)
    try:
        signup = read_request(config, email, name, themes, source, chosen)
    except ValueError as exc:
        return _form_page(site, request, status=400, values=values, source=source, chosen=chosen,
                          problem=_words(config).gettext("Please enter a valid email address (%(reason)s).")
                          % {"reason": exc})
    client = client_key(site.keys()[0], client_network(request.client.host if request.client else ""))

    def admit(db: journal.Db) -> str | int:
        if stamp and not origin and not journal.use_stamp(db, stamp, at=now):
            return "again"
        if not journal.count_client(db, client, at=now, limit=settings.client_limit):
            return "limited"
        return record_request(db, signup).id

    admitted = await site.run(admit)
    if admitted == "again":
        return _form_page(site, request, values=values, source=source, again=True, chosen=chosen)
    if admitted == "limited":
        log.info("sign-up refused: client over its hourly limit")
        limited = site.render("subscribe/limited.html", status=429)
        limited.headers["Retry-After"] = "3600"
        return limited
    assert isinstance(admitted, int) and site.mailer is not None
    site.mailer.submit(SignupMail("confirm", admitted))
    return site.render("subscribe/check.html", email=signup.email)


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
        return _invalid(site, request)
    email, nonce = link
    request_row = await site.run(lambda db: journal.latest_mailed_request(db, email))
    if request_row is None or request_row.nonce != nonce:
        return _invalid(site, request)
    site = site.speaking(query_language(request, site.config) or request_row.language)
    return site.render("subscribe/confirm.html", email=email, token=token,
                       switch=language_switch(request, site.config, site.config.language))


async def confirm_action(request: Request) -> Response:
    """POST from the Confirm button: confirm (again: same answer, nothing changes)."""
    site = site_of(request)
    form = await _read(request, site.config)
    link = _link(site, token_of(request, form))
    if link is None:
        return _invalid(site, request)
    email, nonce = link
    erased = [erasure_key(key, email) for key in site.keys()]
    confirmed = await site.run(lambda db: confirm(db, email, nonce, erased=erased))
    if confirmed is None:
        return _invalid(site, request)
    signup, now_confirmed = confirmed
    if now_confirmed:
        log.info("sign-up confirmed (%s)", signup.source)
        if _settings(site).welcome and site.mailer is not None:
            site.mailer.submit(SignupMail("welcome", signup.id))
    site = site.speaking(query_language(request, site.config) or signup.language)
    return site.render("subscribe/confirmed.html", email=email)


def subscribe_routes(config: Config) -> list[BaseRoute]:
    """The page's routes, for the subscriber site: the form only with a `subscribe:`
    block, the confirmation link always (the unsubscribe page's "Resubscribe" mails one)."""
    path, confirming = subscribe_path(config), confirm_path(config)
    form = [] if path is None else [Route(path, subscribe_page, methods=["GET"]),
                                    Route(path, subscribe_action, methods=["POST"])]
    return [
        *form,
        Route(confirming, confirm_page, methods=["GET"]),
        Route(confirming, confirm_action, methods=["POST"]),
    ]


def render_snippet(config: Config) -> str:
    """The form as HTML to paste into the charity's own website, posting to `subscribe.url`.

    It has the same fields, honeypot and consent wording as the page, but no stamp (it is
    static): from an origin in `allowed_origins` it works in one press; from elsewhere its
    first post shows the page's form again, filled in, to press once more.
    """
    if config.subscribe is None:
        raise ConfigError("no sign-up page: the config has no `subscribe:` block", path=config.path,
                          hint='add `subscribe: {url: "https://example.org/subscribe"}` and serve it '
                               "with `newsletter serve`")
    template = template_environment(config).get_template("subscribe/snippet.html")
    return template.render(name=config.name, action=config.subscribe.url, themes=config.themes,
                           values={"email": "", "name": "", "themes": ()}, consent=config.subscribe.consent,
                           languages=language_options(config, config.language) if offered(config) else [])
