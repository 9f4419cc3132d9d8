"""The sections of `newsletter.yaml`: one dataclass and one reader each.

Each `read_*` function validates one section (smtp, dkim, colors, themes, theme_rules,
sources, subscribe) through the error-collecting `ConfigReader` (reader.py) and returns
its dataclass with defaults filled in; the logo and organisation are `brand.py`'s. The
keys, their kinds and their defaults (the dataclasses' too) come from the key table,
schema.py; a reader adds only what a kind cannot say (a colour's form, a known value).
`loader.py` assembles them into `Config`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.config.i18n import SHIPPED, translations
from newsletter.config.reader import ConfigReader
from newsletter.config.schema import COLORS, DEFAULT_CONSENT, DKIM, SMTP, SOURCES, SUBSCRIBE
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


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how `send` delivers; `None` in `Config.smtp` means the embedded outbox."""

    host: str
    port: int = SMTP.default("port")
    security: str = SMTP.default("security")  # starttls | tls | none
    username: str | None = None
    password_env: str | None = SMTP.default("password_env")
    password_file: Path | None = None
    concurrency: int = SMTP.default("concurrency")
    rate: float | None = None  # messages per second, None = unlimited
    reconnect_after: int = SMTP.default("reconnect_after")
    timeout: float = SMTP.default("timeout")
    max_connection_failures: int = SMTP.default("max_connection_failures")
    allow_insecure: bool = False  # permit plain SMTP (never AUTH) to a non-loopback host
    retries: int = SMTP.default("retries")
    retry_delay: float = SMTP.default("retry_delay")
    ca_file: Path | None = None


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

    text: str = COLORS.default("text")
    background: str = COLORS.default("background")
    accent: str = COLORS.default("accent")
    muted: str = COLORS.default("muted")
    page: str = COLORS.default("page")


@dataclass(frozen=True)
class SubscribeConfig:
    """The sign-up page (double opt-in): where it is served and the consent wording it shows."""

    url: str
    consent: str = DEFAULT_CONSENT
    expires_days: int = SUBSCRIBE.default("expires_days")
    min_seconds: float = SUBSCRIBE.default("min_seconds")
    client_limit: int = SUBSCRIBE.default("client_limit")
    hourly_limit: int = SUBSCRIBE.default("hourly_limit")
    allowed_origins: tuple[str, ...] = SUBSCRIBE.default("allowed_origins")
    welcome: bool = SUBSCRIBE.default("welcome")


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
    schema = COLORS.kinds()
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
    section = r.section(data, "smtp", {**SMTP.kinds(), "password": "any"})
    if section is None:
        return None
    if "password" in section:
        r.error(section, "password", "secrets do not belong in the config",
                "set password_env: NAME and export NAME=... instead")
    values = r.values(section, SMTP)
    if values["security"] not in {"starttls", "tls", "none"}:
        r.error(section, "security", f"unknown value {values['security']!r}", "use starttls, tls or none")
    return SmtpConfig(**values)


def read_dkim(r: ConfigReader, data: LineMap) -> DkimConfig | None:
    """Signing settings, or None; the key must come from a file or env var, never the YAML."""
    secrets = {"key", "private_key"}
    section = r.section(data, "dkim", {**DKIM.kinds(), **{k: "any" for k in secrets}})
    if section is None:
        return None
    for key in secrets & set(section):
        r.error(section, key, "secrets do not belong in the config", "use key_file or key_env")
    config = DkimConfig(**r.values(section, DKIM))
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
        r.validate(entry, SOURCES.kinds(), context="sources")
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
    section = r.section(data, "subscribe", SUBSCRIBE.kinds())
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
    values = r.values(section, SUBSCRIBE, "consent", "expires_days", "min_seconds", "client_limit",
                      "hourly_limit", "welcome")
    name = str(data.get("name") or "our newsletter")
    if section.get("consent") is None:  # the bundled wording, in every language a reader may have
        r.texts["consent"] = {tag: _default_consent(tag, r.path.parent / "locale") for tag in {*SHIPPED, r.language}}
        values["consent"] = r.texts["consent"][r.language]
    values["consent"] = values["consent"].replace("{name}", name)
    return SubscribeConfig(url=url, allowed_origins=_read_origins(r, section), **values)


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


def _default_consent(tag: str, own: Path) -> str:
    words = translations(tag, own).gettext("I would like to receive %(name)s by email. I can unsubscribe at any "
                                           "time with the link in every email.")
    return words.replace("%(name)s", "{name}")


def _is_page_address(url: str) -> bool:
    """An http(s) address without a #fragment, spaces, quotes or angle brackets."""
    return url.startswith(("https://", "http://")) and not any(
        c.isspace() or c in '<>"#' or ord(c) < 32 for c in url)


def _path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/") or "/"


