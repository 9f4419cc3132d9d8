"""The "Manage your topics" page: subscribers tick the themes they want, by their signed link.

Served by the unsubscribe server (`app.routes` mounts `preferences_routes`) at
the path of `preferences_url`, with the same per-recipient token in `?t=` that the
unsubscribe link carries. `GET` shows a checkbox form with the current choice: the one
saved here, else what the last send used (the CSV's `themes` column), else every theme.
`POST` saves it in the state file, where `send` reads it and lets it override the CSV.
Ticking every theme saves "everything" (new themes included); ticking none is refused
with a pointer to the unsubscribe page. A bad token of any kind gets the unsubscribe
server's one generic page. Like unsubscribing, no cookie or login: the token is the proof.

No page is served unless `preferences_url` is set (then the emails carry the link).
"""

from __future__ import annotations

import gettext
import logging
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from newsletter import journal
from newsletter.config import Config, Selection, ordered, route_path, selection_of, stored_choice, translations
from newsletter.site.languages import (
    form_language,
    language_options,
    language_switch,
    offered,
    own_name,
    query_language,
    reader_language,
)
from newsletter.site.pages import SubscriberSite, site_of, token_of, unsubscribe_path

__all__ = ["ThemeBox", "current_choice", "preferences_path", "preferences_routes", "topics_link"]

log = logging.getLogger("newsletter.unsubscribe")


@dataclass(frozen=True)
class ThemeBox:
    """One checkbox on the page."""

    name: str
    checked: bool


def preferences_path(config: Config) -> str | None:
    """The path the page answers on: that of `preferences_url`; None when it is not set."""
    if not config.preferences_url:
        return None
    return route_path(config.preferences_url)


def topics_link(config: Config, token: str) -> str | None:
    """The page's link for this token, relative to the server; None without `preferences_url`."""
    path = preferences_path(config)
    return None if path is None else f"{path}?t={quote(token, safe='')}"


def current_choice(db: Any, email: str, config: Config) -> Selection:
    """Saved on this page, else what the newest send used for the address, else every theme."""
    saved = journal.get_preferences(db, email)
    if saved is not None:
        return stored_choice(saved, config)
    return selection_of(journal.latest_recipient_themes(db, email), config)


def _boxes(config: Config, selection: Selection) -> list[ThemeBox]:
    return [ThemeBox(theme, selection is None or theme in selection) for theme in config.themes]


@dataclass(frozen=True)
class _Reader:
    """Who the token names, as the page needs them: the language they receive, and
    whether they are unsubscribed."""

    email: str
    language: str
    suppressed: bool


def _shown(site: SubscriberSite, request: Request, reader: _Reader) -> SubscriberSite:
    """The site in the reader's language, or in the one a `?lang=` link asks for (display only)."""
    return site.speaking(query_language(request, site.config) or reader.language)


def _words(site: SubscriberSite) -> gettext.NullTranslations:
    return translations(site.config.language, site.config.locale_dir)


def _page(site: SubscriberSite, request: Request, name: str, token: str, reader: _Reader, *, status: int = 200,
          **context: Any) -> HTMLResponse:
    """A page as `site` (already `_shown`) speaks it, for this reader."""
    config = site.config
    return site.render(f"preferences/{name}.html", status=status, token=token, email=reader.email,
                       unsubscribed=reader.suppressed,
                       unsubscribe_link=f"{unsubscribe_path(config)}?t={quote(token, safe='')}",
                       preferences_link=topics_link(config, token),
                       languages=language_options(config, reader.language) if offered(config) else [],
                       switch=language_switch(request, config, config.language), **context)


async def _form(request: Request, config: Config) -> FormData | None:
    try:
        return await request.form(max_files=0, max_fields=len(config.themes) + 5, max_part_size=4096)
    except HTTPException:
        return None


async def _reader(site: SubscriberSite, email: str) -> tuple[_Reader, Selection]:
    def load(db: Any) -> tuple[_Reader, Selection]:
        reader = _Reader(email, reader_language(db, email, site.config), journal.is_suppressed(db, email))
        return reader, current_choice(db, email, site.config)

    return await site.run(load)


async def preferences_page(request: Request) -> Response:
    """GET: the form with the current choice ticked (and the reader's language); never writes."""
    site = site_of(request)
    token = token_of(request)
    email = site.address(token)
    if token is None or email is None:
        return site.invalid()
    reader, selection = await _reader(site, email)
    return _page(_shown(site, request, reader), request, "form", token, reader, themes=_boxes(site.config, selection),
                 problem=None, language_saved="")


async def preferences_action(request: Request) -> Response:
    """POST: save the ticked themes (every one ticked = everything, none = refused), or,
    from the language form, the reader's language."""
    site = site_of(request)
    config = site.config
    form = await _form(request, config)
    token = token_of(request, form)
    email = site.address(token)
    if form is None or token is None or email is None:
        return site.invalid()
    if "language" in form:
        return await _save_language(site, request, form, token, email)
    ticked = {theme for value in form.getlist("theme")
              if isinstance(value, str) and (theme := config.theme_named(value))}
    reader, _ = await _reader(site, email)
    shown = _shown(site, request, reader)
    if not ticked:
        return _page(shown, request, "form", token, reader, status=400, themes=_boxes(config, frozenset()),
                     language_saved="", problem=_words(shown).gettext(
                         "Tick at least one topic. To stop getting emails altogether, unsubscribe instead."))
    selection = selection_of(ticked, config)
    stored = list(ordered(selection, config) or ())  # [] = everything, new themes included
    await site.run(lambda db: journal.set_preferences(db, email, stored))
    log.info("theme preferences saved via the web page")
    return _page(shown, request, "saved", token, reader, chosen=ordered(selection, config))


async def _save_language(site: SubscriberSite, request: Request, form: FormData, token: str,
                         email: str) -> Response:
    """The language form: one of the config's `languages`, saved for the next send; any
    other value (or a one-language list) is refused and nothing is written."""
    config = site.config
    language, known = form_language(form, config)
    if not known or language is None or not offered(config):
        reader, selection = await _reader(site, email)
        shown = _shown(site, request, reader)
        return _page(shown, request, "form", token, reader, status=400, themes=_boxes(config, selection),
                     language_saved="", problem=_words(shown).gettext("Please choose one of the languages offered."))
    await site.run(lambda db: journal.set_language(db, email, language, source="page"))
    log.info("language saved via the web page")
    reader, selection = await _reader(site, email)
    # the answer in the language just chosen, whatever `?lang=` the form was shown in
    return _page(site.speaking(language), request, "form", token, replace(reader, language=language),
                 themes=_boxes(config, selection), problem=None, language_saved=own_name(language, config))


def preferences_routes(config: Config) -> list[BaseRoute]:
    """The page's routes, for the unsubscribe server's app; none without `preferences_url`."""
    path = preferences_path(config)
    if path is None:
        return []
    return [
        Route(path, preferences_page, methods=["GET"]),
        Route(path, preferences_action, methods=["POST"]),
    ]
