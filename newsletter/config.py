"""`newsletter.yaml` -> a `Config` dataclass, with defaults and every error at once.

All paths in the config are resolved relative to the config file's folder, so the
commands work from anywhere. Secrets never live in the YAML: the config names the
environment variable or file that holds them (`password_env`, `secret_env`, ...).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, NewsletterError, raise_all
from .yamldoc import LineMap, load_yaml

__all__ = [
    "Config",
    "SmtpConfig",
    "DkimConfig",
    "SourceConfig",
    "Colors",
    "load_config",
    "theme_key",
]

DEFAULT_SUBJECT = "{name}: {period}"


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
class Config:
    path: Path
    name: str
    sender: str  # the `from` key: "Name <addr>"
    themes: tuple[str, ...]
    unsubscribe_url: str
    unsubscribe_mailto: str
    reply_to: str | None = None
    subject: str = DEFAULT_SUBJECT
    preheader: str | None = None
    language: str = "en"
    list_id: str = ""
    intro: str | None = None
    footer: str | None = None
    templates: Path | None = None
    colors: Colors = field(default_factory=Colors)
    smtp: SmtpConfig | None = None
    dkim: DkimConfig | None = None
    sources: tuple[SourceConfig, ...] = ()
    theme_rules: dict[str, list[str]] = field(default_factory=dict)
    archive_url: str | None = None
    preferences_url: str | None = None
    quiet_month: str | None = None
    secret_env: str = "NEWSLETTER_TOKEN_SECRET"
    secret_file: Path | None = None
    old_secrets_env: str | None = "NEWSLETTER_TOKEN_SECRET_OLD"
    old_secrets_until: dt.date | None = None  # old secrets verify until this day (inclusive)
    soft_bounce_limit: int = 3
    sample_recipient: tuple[str, str] = ("Sam Sample", "sam.sample@example.org")

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def items_dir(self) -> Path:
        return self.root / "items"

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"

    @property
    def state_file(self) -> Path:
        return self.root / "newsletter.db"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    def theme_named(self, name: str) -> str | None:
        """The configured display name matching `name`, ignoring case and spacing."""
        wanted = theme_key(name)
        for theme in self.themes:
            if theme_key(theme) == wanted:
                return theme
        return None


def theme_key(name: str) -> str:
    """Theme names match ignoring case and spacing: 'Youth  Violence' = 'youth violence'."""
    return re.sub(r"[\s_-]+", " ", name).strip().casefold()


_TOP_KEYS = {
    "name", "from", "reply_to", "subject", "preheader", "language", "list_id", "intro",
    "footer", "themes", "unsubscribe", "templates", "colors", "smtp", "dkim", "sources",
    "theme_rules", "archive_url", "preferences_url", "quiet_month", "tokens", "bounces",
    "sample_recipient",
}
_SMTP_KEYS = {f for f in SmtpConfig.__dataclass_fields__}
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class _Reader:
    """Collects every config error instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[NewsletterError] = []

    def error(self, where: LineMap | None, key: str, message: str, hint: str | None = None) -> None:
        line = where.line_of(key) if isinstance(where, LineMap) else None
        self.errors.append(ConfigError(message, path=self.path, line=line, field=key, hint=hint))

    def section(self, data: LineMap, key: str, allowed: set[str]) -> LineMap | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, LineMap):
            self.error(data, key, "must be a mapping of settings")
            return None
        for unknown in sorted(set(value) - allowed):
            self.error(value, unknown, "unknown setting", f"allowed: {', '.join(sorted(allowed))}")
        return value

    def text(self, data: LineMap, key: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(data, key, "missing", f"add `{key}:` to the config")
            return None
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.error(data, key, "must be text")
            return None
        return str(value).strip()

    def number(self, data: LineMap, key: str, default: Any, kind: type = int) -> Any:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.error(data, key, f"must be a positive number, not {value!r}")
            return default
        return kind(value)

    def path_value(self, data: LineMap, key: str) -> Path | None:
        value = self.text(data, key)
        return (self.path.parent / value).resolve() if value else None


def load_config(path: Path) -> Config:
    """Read and validate `newsletter.yaml`; raise every problem at once."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            "config file not found",
            path=path,
            hint="run the command in your newsletter folder or pass --config FILE",
        )
    data = load_yaml(path)
    if not isinstance(data, LineMap):
        raise ConfigError("must be a YAML mapping of settings", path=path, line=1)
    r = _Reader(path)
    for unknown in sorted(set(data) - _TOP_KEYS):
        r.error(data, unknown, "unknown setting", f"allowed: {', '.join(sorted(_TOP_KEYS))}")

    name = r.text(data, "name", required=True) or ""
    sender = r.text(data, "from", required=True) or ""
    if sender and "@" not in parseaddr(sender)[1]:
        r.error(data, "from", f"not an email address: {sender!r}", 'write it as "Name <addr@example.org>"')
    if any(c in sender for c in "\r\n"):
        r.error(data, "from", "must be one line")
    themes = _themes(r, data)
    unsub = r.section(data, "unsubscribe", {"url", "mailto"})
    unsub_url = unsub_mailto = ""
    if unsub is None:
        r.error(data, "unsubscribe", "missing", "add `unsubscribe: {url: https://..., mailto: ...}`")
    else:
        unsub_url = r.text(unsub, "url", required=True) or ""
        unsub_mailto = r.text(unsub, "mailto", required=True) or ""
        if unsub_url and not unsub_url.startswith(("https://", "http://")):
            r.error(unsub, "url", f"not a web address: {unsub_url!r}", "use https://...")
        unsub_mailto = unsub_mailto.removeprefix("mailto:")
    subject = r.text(data, "subject") or DEFAULT_SUBJECT
    try:
        subject.format(name="", period="", count=0, themes="", month="")
    except (KeyError, IndexError, ValueError) as exc:
        r.error(data, "subject", f"bad placeholder {exc}", "use {name}, {period}, {count} or {themes}")
    archive_url = r.text(data, "archive_url")
    if archive_url and (not archive_url.startswith(("https://", "http://"))
                        or any(c.isspace() or c in '<>"' or ord(c) < 32 for c in archive_url)):
        r.error(data, "archive_url", f"not a web address: {archive_url!r}",
                "write the archive's full address, e.g. https://example.org/digest")
    preferences_url = r.text(data, "preferences_url")
    if preferences_url:
        _check_preferences_url(r, data, preferences_url, unsub_url)
    colors = _colors(r, data)
    smtp = _smtp(r, data)
    dkim = _dkim(r, data)
    tokens = r.section(data, "tokens", {"secret_env", "secret_file", "old_secrets_env", "old_secrets_until"}) or LineMap()
    bounces = r.section(data, "bounces", {"soft_limit"}) or LineMap()
    sample = r.section(data, "sample_recipient", {"name", "email"}) or LineMap()
    list_id = r.text(data, "list_id") or _default_list_id(name, sender)
    old_until = _date(r, tokens, "old_secrets_until")
    soft_limit = r.number(bounces, "soft_limit", 3)
    sources = _sources(r, data, themes)
    theme_rules = _rules(r, data, "theme_rules", themes)
    raise_all(r.errors)
    return Config(
        path=path.resolve(),
        name=name,
        sender=sender,
        themes=themes,
        unsubscribe_url=unsub_url,
        unsubscribe_mailto=unsub_mailto,
        reply_to=r.text(data, "reply_to"),
        subject=subject,
        preheader=r.text(data, "preheader"),
        language=r.text(data, "language") or "en",
        list_id=list_id,
        intro=r.text(data, "intro"),
        footer=r.text(data, "footer"),
        templates=r.path_value(data, "templates"),
        colors=colors,
        smtp=smtp,
        dkim=dkim,
        sources=sources,
        theme_rules=theme_rules,
        archive_url=archive_url,
        preferences_url=preferences_url,
        quiet_month=r.text(data, "quiet_month"),
        secret_env=r.text(tokens, "secret_env") or "NEWSLETTER_TOKEN_SECRET",
        secret_file=r.path_value(tokens, "secret_file"),
        old_secrets_env=r.text(tokens, "old_secrets_env") or "NEWSLETTER_TOKEN_SECRET_OLD",
        old_secrets_until=old_until,
        soft_bounce_limit=soft_limit,
        sample_recipient=(
            r.text(sample, "name") or "Sam Sample",
            r.text(sample, "email") or "sam.sample@example.org",
        ),
    )


def _check_preferences_url(r: _Reader, data: LineMap, url: str, unsubscribe_url: str) -> None:
    """The "Manage your topics" page: a web address the unsubscribe server answers on too."""
    if not url.startswith(("https://", "http://")) or any(c.isspace() or c in '<>"' or ord(c) < 32 for c in url):
        r.error(data, "preferences_url", f"not a web address: {url!r}",
                "e.g. https://example.org/unsubscribe/preferences (served by `newsletter unsubscribe-server`)")
    elif "#" in url:
        r.error(data, "preferences_url", "must not have a #fragment", "the link adds ?t=<token> itself")
    elif unsubscribe_url and urlsplit(url).path.rstrip("/") == urlsplit(unsubscribe_url).path.rstrip("/"):
        r.error(data, "preferences_url", "must have another path than unsubscribe.url",
                "the same server answers both, e.g. https://example.org/unsubscribe/preferences")


def _date(r: _Reader, data: LineMap, key: str) -> dt.date | None:
    value = r.text(data, key)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        r.error(data, key, f"not a date: {value!r}", "write it as YYYY-MM-DD")
        return None


def _default_list_id(name: str, sender: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "newsletter"
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"{slug}.{domain}"


def _themes(r: _Reader, data: LineMap) -> tuple[str, ...]:
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


def _colors(r: _Reader, data: LineMap) -> Colors:
    section = r.section(data, "colors", set(Colors.__dataclass_fields__))
    if section is None:
        return Colors()
    values = {}
    for key in section:
        value = r.text(section, key)
        if value and not _COLOR_RE.match(value):
            r.error(section, key, f"not a colour: {value!r}", 'write it as "#rrggbb"')
        elif value:
            values[key] = value
    return Colors(**values)


def _smtp(r: _Reader, data: LineMap) -> SmtpConfig | None:
    section = r.section(data, "smtp", _SMTP_KEYS)
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


def _dkim(r: _Reader, data: LineMap) -> DkimConfig | None:
    section = r.section(data, "dkim", {"domain", "selector", "key_file", "key_env"})
    if section is None:
        return None
    if "key" in section or "private_key" in section:
        r.error(section, "key", "secrets do not belong in the config", "use key_file or key_env")
    config = DkimConfig(
        domain=r.text(section, "domain", required=True) or "",
        selector=r.text(section, "selector", required=True) or "",
        key_file=r.path_value(section, "key_file"),
        key_env=r.text(section, "key_env"),
    )
    if not config.key_file and not config.key_env:
        r.error(section, "key_file", "no private key given", "set key_file: PATH or key_env: NAME")
    return config


def _configured_theme(r: _Reader, where: LineMap, key: str, name: str,
                      themes: tuple[str, ...]) -> str | None:
    """The configured display name for `name`, or an error on the line that names it."""
    if not themes:  # `themes` itself is wrong; that error is already reported
        return name
    for theme in themes:
        if theme_key(theme) == theme_key(name):
            return theme
    r.error(where, key, f"unknown theme {name!r}", f"use one of: {', '.join(themes)}")
    return None


def _rules(r: _Reader, data: LineMap, key: str, themes: tuple[str, ...]) -> dict[str, list[str]]:
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


def _sources(r: _Reader, data: LineMap, themes: tuple[str, ...]) -> tuple[SourceConfig, ...]:
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
        for unknown in sorted(set(entry) - {"url", "name", "theme", "rules"}):
            r.error(entry, unknown, "unknown setting", "allowed: url, name, theme, rules")
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
            rules=_rules(r, entry, "rules", themes),
        ))
    return tuple(sources)
