"""What every subscriber page shares: the token check, the state file, the templates, the CSP.

The unsubscribe and topics pages (and any page added later) take a `SubscriberSite` from
`site_of(request)` and render through it, so every page gets the same CSP, the same brand
(logo, organisation footer and the email's palette, `templates/site/base.html`) and the
same generic answer to a bad link.

The CSP stays `default-src 'none'`: inline styles are allowed by their hash, and images
only from the configured logo's own origin (`https://host[:port]`, never a wildcard), so
the logo shows and nothing else can load. `Referrer-Policy: no-referrer` (app.py) keeps
the token in the page's URL from reaching the logo's server.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from newsletter import journal
from newsletter.config import Config, Logo, palette_for, route_path
from newsletter.errors import ConfigError
from newsletter.issue import template_environment
from newsletter.send import SignupMailer
from newsletter.tokens import read_token

__all__ = ["MAX_BODY_BYTES", "BASE_CSP", "SubscriberSite", "logo_source", "read_form", "site_of", "token_of",
           "unsubscribe_path"]

MAX_BODY_BYTES = 16 * 1024  # a one-click body is 26 bytes; the page's form a few hundred
T = TypeVar("T")
log = logging.getLogger("newsletter.site")

BASE_CSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
_STYLE_RE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True)
class SubscriberSite:
    """What every subscriber page needs: config, token keys, the state, templates.

    `keys` is called for every token checked, not once at start-up: an old secret's
    `old_secrets_until` date must take effect on a server that has been running for weeks.
    """

    config: Config
    keys: Callable[[], list[bytes]]
    state: journal.StateLocation
    templates: jinja2.Environment
    mailer: SignupMailer | None = None  # the sign-up mails' background sender (with `subscribe:`)
    # the site in each language of a bilingual list, made on first use and shared by all of them
    speakers: dict[str, SubscriberSite] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.speakers.setdefault(self.config.language, self)

    def speaking(self, language: str | None) -> SubscriberSite:
        """The site as a reader of `language` sees it: that language's words, dates and
        `<html lang>`, and the officer's texts (consent wording) in it; the config's own
        for None or a language the config does not offer (site/languages.py checks first)."""
        home = next(iter(self.speakers.values()))
        if not language or language not in home.config.languages:
            return home
        site = self.speakers.get(language)
        if site is None:
            config = home.config.in_language(language)
            site = self.speakers[language] = replace(home, config=config, templates=template_environment(config))
        return site

    def address(self, token: str | None) -> str | None:
        """The subscriber a token belongs to, or None for any kind of bad token."""
        if not token:
            return None
        try:
            keys = self.keys()
        except ConfigError:  # the secret file went away while serving: refuse, say why in the log
            log.exception("cannot read the token secret; every link is refused until it is back")
            return None
        return read_token(token, self.config.list_id, keys)

    @contextmanager
    def db(self) -> Iterator[journal.Db]:
        """A short-lived connection; WAL and the busy timeout let `send` write meanwhile."""
        conn = journal.connect(self.state)
        try:
            yield conn
        finally:
            conn.close()

    async def run(self, func: Callable[[journal.Db], T]) -> T:
        """Run `func(db)` in a worker thread so a locked database never blocks the server."""

        def call() -> T:
            with self.db() as conn:
                return func(conn)

        return await run_in_threadpool(call)

    def page(self, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """Render `unsubscribe/<name>.html`."""
        return self.render(f"unsubscribe/{name}.html", status=status, **context)

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """Any subscriber page, with the list's name, language, brand (logo, organisation, the
        email's `light` and `dark` palettes) and mailto; its inline styles are allowed by hash
        in the CSP, and the logo by its origin."""
        config = self.config
        palette = palette_for(config.colors)
        body = self.templates.get_template(template).render(
            name=config.name, lang=config.language, colors=config.colors, light=palette.light, dark=palette.dark,
            logo=config.logo, organisation=config.organisation, mailto=config.unsubscribe_mailto, **context,
        )
        csp = _csp(body, logo_source(config.logo))
        return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": csp})

    def invalid(self) -> HTMLResponse:
        """The one answer for every bad link: it says nothing about why."""
        return self.page("invalid", status=400)


def _csp(body: str, images: str | None = None) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
        for style in _STYLE_RE.findall(body)
    )
    csp = f"{BASE_CSP}; style-src {hashes}" if hashes else BASE_CSP
    return f"{csp}; img-src {images}" if images else csp


_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")


def logo_source(logo: Logo | None) -> str | None:
    """The CSP source that lets the logo load: its https origin, or None when there is no
    logo or its host is not a plain DNS name (the logo's alt text shows instead; a host
    spelled otherwise could smuggle `;` or a wildcard into the header)."""
    if logo is None:
        return None
    try:
        parts = urlsplit(logo.src)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or not _HOST_RE.fullmatch(host):
        return None
    return f"https://{host}" + (f":{port}" if port else "")


def site_of(request: Request) -> SubscriberSite:
    site: SubscriberSite = request.app.state.site
    return site


async def read_form(request: Request) -> FormData:
    """The POSTed form (urlencoded or multipart, per RFC 8058); empty if unreadable."""
    try:
        return await request.form(max_files=0, max_fields=8, max_part_size=4096)
    except HTTPException:
        return FormData()


def token_of(request: Request, form: FormData | None = None) -> str | None:
    """The signed token from `?t=`, else from the POSTed form's `t` field."""
    token = request.query_params.get("t")
    if not token and form is not None:
        value = form.get("t")
        token = value if isinstance(value, str) else None
    return token


def unsubscribe_path(config: Config) -> str:
    """The path the server answers on: the path of `unsubscribe.url`, so a proxy passes it as is."""
    return route_path(config.unsubscribe_url)


