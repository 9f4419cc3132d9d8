"""The sections of `newsletter.yaml`: one dataclass and one reader each.

Each `read_*` function validates one section (smtp, dkim, colors, themes, theme_rules,
sources, subscribe) through the error-collecting `ConfigReader` (reader.py) and returns
its dataclass with defaults filled in; the logo and organisation are `brand.py`'s.
`loader.py` assembles them into `Config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.config.reader import ConfigReader, schema_of
from newsletter.yamldoc import LineMap

__all__ = [
    "Colors",
    "DkimConfig",
    "SmtpConfig",
    "SourceConfig",
    "SubscribeConfig",
    "read_colors",
    "read_dkim",
    "read_rules",
    "read_smtp",
    "read_sources",
    "read_subscribe",
    "read_themes",
    "theme_key",
]


DEFAULT_CONSENT = ("I would like to receive {name} by email. I can unsubscribe at any time "
                   "with the link in every email.")


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how `send` delivers; `None` in `Config.smtp` means the embedded outbox."""

    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none
    username: str | None = None
    password_env: str | None = "NEWSLETTER_SMTP_PASSWORD"
    password_file: Path | None = None
    concurrency: int = 4
    rate: float | None = None  # messages per second, None = unlimited
    reconnect_after: int = 500  # messages per connection before a fresh one
    timeout: float = 30.0
    max_connection_failures: int = 5  # consecutive; then the run stops, resumable
    allow_insecure: bool = False  # permit plain SMTP (never AUTH) to a non-loopback host
    retries: int = 5  # attempts per recipient on 4xx replies within one run
    retry_delay: float = 2.0  # seconds before the first retry/reconnect; doubles, max 60
    ca_file: Path | None = None  # extra CA bundle to trust (a relay with a private CA)


@dataclass(frozen=True)
class DkimConfig:
    """Who signs (`d=`, `s=`) and where the private key comes from: a file or an env var."""

    domain: str
    selector: str
    key_file: Path | None = None
    key_env: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    """A feed `collect` reads: its URL, the display name used as `source`, theme rules."""

    url: str
    name: str
    theme: str | None = None  # theme for entries none of this source's own rules match
    rules: dict[str, list[str]] = field(default_factory=dict)  # theme -> keywords, "tag:X"


@dataclass(frozen=True)
class Colors:
    """The email's palette; `check` tests text/background for WCAG AA contrast."""

    text: str = "#1f2933"
    background: str = "#ffffff"
    accent: str = "#0b5cad"
    muted: str = "#52606d"
    page: str = "#f0f2f5"


@dataclass(frozen=True)
class SubscribeConfig:
    """The sign-up page (double opt-in): where it is served and the consent wording it shows."""

    url: str
    consent: str = DEFAULT_CONSENT
    expires_days: int = 7  # how long a confirmation link works
    min_seconds: float = 3.0  # a form posted sooner after the page was shown is asked again (bots)
    client_limit: int = 10  # sign-ups per client (IPv4 address, IPv6 /64) per hour
    hourly_limit: int = 200  # confirmation mails per hour in all; more wait, with a warning in the log
    allowed_origins: tuple[str, ...] = ()  # other sites whose pasted form may post here in one press
    welcome: bool = False  # mail a welcome after confirming (templates/subscribe/welcome.txt)


def theme_key(name: str) -> str:
    """Theme names match ignoring case and spacing: 'Youth  Violence' = 'youth violence'."""
    return re.sub(r"[\s_-]+", " ", name).strip().casefold()


_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

def read_themes(r: ConfigReader, data: LineMap) -> tuple[str, ...]:
    """The display order of sections; a name listed twice (ignoring case) would split a theme."""
    value = data.get("themes")
    if not isinstance(value, list) or not value:
        r.error(data, "themes", "must be a list of theme names in display order",
                "e.g. themes: [Online safety, Neglect]")
        return ()
    seen: dict[str, str] = {}
    themes = []
    for theme in value:
        if not isinstance(theme, str) or not theme.strip():
            r.error(data, "themes", f"not a theme name: {theme!r}")
            continue
        key = theme_key(theme)
        if key in seen:
            r.error(data, "themes", f"{theme!r} is listed twice", "theme names ignore case and spacing")
        seen[key] = theme
        themes.append(" ".join(theme.split()))
    return tuple(themes)


def read_colors(r: ConfigReader, data: LineMap) -> Colors:
    """The palette, each colour `#rrggbb` so `check` can compute its contrast."""
    schema = schema_of(Colors)
    section = r.section(data, "colors", schema)
    if section is None:
        return Colors()
    values = {}
    for key in (k for k in section if k in schema):
        value = r.text(section, key)
        if value and not _COLOR_RE.match(value):
            r.error(section, key, f"not a colour: {value!r}", 'write it as "#rrggbb"')
        elif value:
            values[key] = value
    return Colors(**values)


def read_smtp(r: ConfigReader, data: LineMap) -> SmtpConfig | None:
    """The relay to send through, or None for the embedded outbox; a password here is an error."""
    section = r.section(data, "smtp", {**schema_of(SmtpConfig), "password": "any"})
    if section is None:
        return None
    if "password" in section:
        r.error(section, "password", "secrets do not belong in the config",
                "set password_env: NAME and export NAME=... instead")
    host = r.text(section, "host", required=True) or ""
    security = r.text(section, "security") or "starttls"
    if security not in {"starttls", "tls", "none"}:
        r.error(section, "security", f"unknown value {security!r}", "use starttls, tls or none")
    allow_insecure = section.get("allow_insecure", False)
    if not isinstance(allow_insecure, bool):
        r.error(section, "allow_insecure", "must be true or false")
        allow_insecure = False
    return SmtpConfig(
        host=host,
        port=r.number(section, "port", 587),
        security=security,
        username=r.text(section, "username"),
        password_env=r.text(section, "password_env") or "NEWSLETTER_SMTP_PASSWORD",
        password_file=r.path_value(section, "password_file"),
        concurrency=r.number(section, "concurrency", 4),
        rate=r.number(section, "rate", None, float),
        reconnect_after=r.number(section, "reconnect_after", 500),
        timeout=r.number(section, "timeout", 30.0, float),
        max_connection_failures=r.number(section, "max_connection_failures", 5),
        allow_insecure=allow_insecure,
        retries=r.number(section, "retries", 5),
        retry_delay=r.number(section, "retry_delay", 2.0, float),
        ca_file=r.path_value(section, "ca_file"),
    )


def read_dkim(r: ConfigReader, data: LineMap) -> DkimConfig | None:
    """Signing settings, or None; the key must come from a file or env var, never the YAML."""
    secrets = {"key", "private_key"}
    section = r.section(data, "dkim", {**schema_of(DkimConfig), **{k: "any" for k in secrets}})
    if section is None:
        return None
    for key in secrets & set(section):
        r.error(section, key, "secrets do not belong in the config", "use key_file or key_env")
    config = DkimConfig(
        domain=r.text(section, "domain", required=True) or "",
        selector=r.text(section, "selector", required=True) or "",
        key_file=r.path_value(section, "key_file"),
        key_env=r.text(section, "key_env"),
    )
    if not config.key_file and not config.key_env:
        r.error(section, "key_file", "no private key given", "set key_file: PATH or key_env: NAME")
    return config


def _configured_theme(r: ConfigReader, where: LineMap, key: str, name: str,
                      themes: tuple[str, ...]) -> str | None:
    """The configured display name for `name`, or an error on the line that names it."""
    if not themes:  # `themes` itself is wrong; that error is already reported
        return name
    for theme in themes:
        if theme_key(theme) == theme_key(name):
            return theme
    r.error(where, key, f"unknown theme {name!r}", f"use one of: {', '.join(themes)}")
    return None


def read_rules(r: ConfigReader, data: LineMap, key: str, themes: tuple[str, ...]) -> dict[str, list[str]]:
    """theme -> keywords; a keyword matches a whole word or phrase of an entry's title or
    summary, or one of its categories; `tag:X` matches only a category; `word*` a prefix."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, LineMap):
        r.error(data, key, "must map theme names to lists of keywords",
                "e.g. theme_rules: {Online safety: [online, tag:internet]}")
        return {}
    rules: dict[str, list[str]] = {}
    for name, words in value.items():
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            r.error(value, name, "must be a list of keywords")
            continue
        theme = _configured_theme(r, value, name, name, themes)
        if theme is not None:
            rules.setdefault(theme, []).extend(w.strip() for w in words if w.strip().removeprefix("tag:"))
    return rules


def read_sources(r: ConfigReader, data: LineMap, themes: tuple[str, ...]) -> tuple[SourceConfig, ...]:
    """The feeds `collect` reads; theme names are checked against `themes` here, not at collect time."""
    value = data.get("sources")
    if value is None:
        return ()
    if not isinstance(value, list):
        r.error(data, "sources", "must be a list of {url, name}")
        return ()
    sources = []
    for entry in value:
        if not isinstance(entry, LineMap):
            r.error(data, "sources", f"not a source: {entry!r}", "write each as {url: ..., name: ...}")
            continue
        r.validate(entry, schema_of(SourceConfig), context="sources")
        url = r.text(entry, "url", required=True) or ""
        if "://" in url and not url.lower().startswith(("https://", "http://")):
            r.error(entry, "url", f"not a web address or file: {url!r}",
                    "use https://... or a file path relative to the config")
        theme = r.text(entry, "theme")
        if theme:
            theme = _configured_theme(r, entry, "theme", theme, themes)
        sources.append(SourceConfig(
            url=url,
            name=r.text(entry, "name", required=True) or "",
            theme=theme or None,
            rules=read_rules(r, entry, "rules", themes),
        ))
    return tuple(sources)


def read_subscribe(r: ConfigReader, data: LineMap, taken: dict[str, str]) -> SubscribeConfig | None:
    """The `subscribe:` block, or None (no block, no page). `taken` maps the paths other
    pages of the subscriber site answer on to their keys: the sign-up page needs its own."""
    section = r.section(data, "subscribe", schema_of(SubscribeConfig))
    if section is None:
        return None
    url = r.text(section, "url", required=True) or ""
    if url and not _is_page_address(url):
        r.error(section, "url", f"not a web address: {url!r}",
                "e.g. https://example.org/subscribe (served by `newsletter serve`)")
    path = _path_of(url)
    if url and path in taken:
        r.error(section, "url", f"must have another path than {taken[path]}",
                "the same server answers both, e.g. https://example.org/subscribe")
    consent = r.text(section, "consent") or DEFAULT_CONSENT
    name = data.get("name")
    return SubscribeConfig(
        url=url,
        consent=consent.replace("{name}", str(name or "our newsletter")),
        expires_days=r.number(section, "expires_days", 7),
        min_seconds=r.number(section, "min_seconds", 3.0, float),
        client_limit=r.number(section, "client_limit", 10),
        hourly_limit=r.number(section, "hourly_limit", 200),
        allowed_origins=_read_origins(r, section),
        welcome=section.get("welcome") is True,
    )


def _read_origins(r: ConfigReader, section: LineMap) -> tuple[str, ...]:
    """`allowed_origins`: each `https://host[:port]`, nothing more (an Origin header's spelling)."""
    value = section.get("allowed_origins")
    if not isinstance(value, list):
        return ()
    origins = []
    for entry in value:
        text = str(entry).strip().rstrip("/").lower() if isinstance(entry, str) else ""
        parts = urlsplit(text)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.path or parts.query or "@" in text:
            r.error(section, "allowed_origins", f"not an origin: {entry!r}",
                    "write the scheme and host only, e.g. https://www.example.org")
            continue
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(origins)


def _is_page_address(url: str) -> bool:
    """An http(s) address without a #fragment, spaces, quotes or angle brackets."""
    return url.startswith(("https://", "http://")) and not any(
        c.isspace() or c in '<>"#' or ord(c) < 32 for c in url)


def _path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/") or "/"


