"""`newsletter.yaml` -> a `Config` dataclass, with defaults and every error at once.

All paths in the config are resolved relative to the config file's folder, so the
commands work from anywhere. Secrets never live in the YAML: the config names the
environment variable or file that holds them (`password_env`, `secret_env`, ...).

This module owns `Config` and the top-level keys; each section with its own dataclass
(smtp, dkim, colors, themes, theme_rules, sources) is read in `sections.py`. Which keys
exist, their kinds and their defaults (`Config`'s too) are declared once, in schema.py.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from newsletter.config.addressing import (
    check_preferences_url,
    default_list_id,
    is_web_address,
    mail_address,
    mailto_address,
    read_list_id,
    site_paths,
    site_url,
)
from newsletter.config.approval import ApprovalConfig, read_approval, read_timezone
from newsletter.config.brand import Logo, Organisation, read_logo, read_organisation
from newsletter.config.i18n import pick_text
from newsletter.config.languages import read_language, read_language_layout, read_languages
from newsletter.config.reader import ConfigReader
from newsletter.config.schema import BOUNCES, SAMPLE_RECIPIENT, TOKENS, TOP, TRACKING, UNSUBSCRIBE
from newsletter.config.sections import (
    Colors,
    DkimConfig,
    SmtpConfig,
    SourceConfig,
    SubscribeConfig,
    read_colors,
    read_dkim,
    read_rules,
    read_smtp,
    read_sources,
    read_subscribe,
    read_themes,
    theme_key,
)
from newsletter.errors import ConfigError, NewsletterError, raise_all
from newsletter.journal import StateLocation, parse_state
from newsletter.yamldoc import LineMap, load_yaml

__all__ = ["Config", "load_config"]

DEFAULT_SUBJECT: str = TOP.default("subject")


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
    language: str = TOP.default("language")
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
    secret_env: str = TOKENS.default("secret_env")
    secret_file: Path | None = None
    old_secrets_env: str | None = TOKENS.default("old_secrets_env")
    old_secrets_until: dt.date | None = None  # old secrets verify until this day (inclusive)
    soft_bounce_limit: int = BOUNCES.default("soft_limit")
    bounce_mailbox: Path | None = None  # `bounces.mailbox`: the Maildir bounces arrive in
    bounce_imap: str | None = None  # `bounces.mailbox` given as imaps://user@host/FOLDER
    verp: bool = False  # `bounces.verp`: a VERP return path per message (default: on with a mailbox)
    bounce_return_path: str | None = None  # `bounces.return_path`; None = the `from` address
    sample_recipient: tuple[str, str] = (SAMPLE_RECIPIENT.default("name"), SAMPLE_RECIPIENT.default("email"))
    subscribe: SubscribeConfig | None = None  # the sign-up page; None = no page
    logo: Logo | None = None
    organisation: Organisation | None = None
    summary_words: int | None = None  # longer summaries end at a sentence, before the item's link
    buttons: bool = TOP.default("buttons")  # each item's first link as a button
    count_clicks: bool = TRACKING.default("clicks")  # `tracking.clicks`: item links via the site's /r/, counted
    clip: str | None = TOP.default("clip")  # "excerpt" or "refuse" when the email would be clipped
    state_location: StateLocation | None = None  # `state:` or $NEWSLETTER_STATE; None = the file beside

    @property
    def state(self) -> StateLocation:
        """Where the state lives: `state:` (or NEWSLETTER_STATE), else newsletter.db beside the config."""
        return self.state_location or StateLocation(path=self.root / "newsletter.db")

    @property
    def clip_mode(self) -> str:
        """What a build does with an email Gmail would clip: the short `excerpt` (linking to
        the full issue online, so only once there is an `archive_url`), or `refuse`."""
        return self.clip or ("excerpt" if self.archive_url else "refuse")
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)  # approve, then schedule (issue 30)
    timezone: str | None = None  # IANA zone for --at times; None = the machine's
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # the officer's words per language, by key
    languages: tuple[str, ...] = ("en",)  # what a subscriber's `language` may be (`language` alone by default)
    language_layout: str = TOP.default("language_layout")  # "separate" or "stacked"

    @property
    def stacked_languages(self) -> tuple[str, ...]:
        """With `language_layout: stacked`, every language of `languages:` in the order the
        one email shows them (first listed first); () when each reader gets their own."""
        return self.languages if self.language_layout == "stacked" and len(self.languages) > 1 else ()

    def in_language(self, tag: str) -> Config:
        """This config as a reader of `tag` gets it: its language, and the officer's texts
        (subject, intro, footer, quiet note, preheader, consent) in that language where given."""
        chosen = {key: pick_text(texts, tag) for key, texts in self.texts.items()}
        words: dict[str, Any] = {key: text for key, text in chosen.items() if text is not None and key != "consent"}
        subscribe = self.subscribe
        consent = chosen.get("consent")
        if subscribe and consent:
            subscribe = replace(subscribe, consent=consent.replace("{name}", self.name))
        return replace(self, language=tag, subscribe=subscribe, **words)

    @property
    def offered_languages(self) -> tuple[str, ...]:
        """Every language a reader may receive: `languages`, and `language` (a reader who names
        none) unless one of them serves it (`en` serves `en-GB`). The archive publishes each,
        the preview shows each."""
        tags = tuple(dict.fromkeys(self.languages))
        return tags if pick_text({tag: tag for tag in tags}, self.language) else (*tags, self.language)

    def issue_url(self, slug: str) -> str | None:
        """Where the issue is online for this config's readers: their language's folder of the
        archive when it is published in several (separate emails), else `<archive_url>/<slug>/`."""
        if not self.archive_url:
            return None
        base = self.archive_url.rstrip("/")
        offered = self.offered_languages
        folder = pick_text({tag: tag for tag in offered}, self.language) if len(offered) > 1 else None
        return f"{base}/{folder}/{slug}/" if folder and self.language_layout == "separate" else f"{base}/{slug}/"

    @property
    def subscribers_file(self) -> Path:
        """The subscriber list `send`, `check` and `subscribers export` read unless told otherwise."""
        return self.root / "subscribers.csv"

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def locale_dir(self) -> Path:
        """The officer's own catalogues (`locale/<lang>/LC_MESSAGES/newsletter.po`), read first."""
        return self.root / "locale"

    @property
    def items_dir(self) -> Path:
        return self.root / "items"

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]

    @property
    def return_path(self) -> str:
        """Where bounces go (MAIL FROM, before VERP): `bounces.return_path` or the `from` address."""
        return self.bounce_return_path or self.sender_address

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
    r = ConfigReader(path)
    r.validate(data, TOP.names)  # names only: each top-level value's own reader words its errors
    language = r.language = read_language(r, data)  # first: the officer's per-language texts are picked by it
    languages = read_languages(r, data, language)
    language_layout = read_language_layout(r, data, languages)

    name = r.text(data, "name", required=True) or ""
    sender = mail_address(r, data, "from", r.text(data, "from", required=True) or "")
    themes = read_themes(r, data)
    unsub = r.section(data, "unsubscribe", UNSUBSCRIBE.kinds())
    unsub_url = unsub_mailto = ""
    if unsub is None:
        r.error(data, "unsubscribe", "missing", "add `unsubscribe: {url: https://..., mailto: ...}`")
    else:
        unsub_url = site_url(r, unsub, "url", r.text(unsub, "url", required=True) or "",
                              "e.g. https://example.org/unsubscribe")
        unsub_mailto = mailto_address(r, unsub, (r.text(unsub, "mailto", required=True) or "").removeprefix("mailto:"))
    subject = r.value(data, TOP["subject"])
    for template in {subject, *r.texts.get("subject", {}).values()}:
        try:
            template.format(name="", period="", count=0, themes="", month="")
        except (KeyError, IndexError, ValueError) as exc:
            r.error(data, "subject", f"bad placeholder {exc}", "use {name}, {period}, {count} or {themes}")
    archive_url = r.text(data, "archive_url")
    if archive_url and not is_web_address(archive_url):
        r.error(data, "archive_url", f"not a web address: {archive_url!r}",
                "write the archive's full address, e.g. https://example.org/digest")
    preferences_url = r.text(data, "preferences_url")
    if preferences_url:
        preferences_url = check_preferences_url(r, data, preferences_url, unsub_url)
    colors = read_colors(r, data)
    smtp = read_smtp(r, data)
    dkim = read_dkim(r, data)
    tokens = r.section(data, "tokens", TOKENS.kinds()) or LineMap()
    bounces = r.section(data, "bounces", BOUNCES.kinds()) or LineMap()
    sample = r.section(data, "sample_recipient", SAMPLE_RECIPIENT.kinds()) or LineMap()
    subscribe = read_subscribe(r, data, site_paths(unsub_url, preferences_url))
    list_id = read_list_id(r, data) or default_list_id(name, sender)
    old_until = _date(r, tokens, "old_secrets_until")
    soft_limit = r.value(bounces, BOUNCES["soft_limit"])
    bounce_mailbox, bounce_imap, verp, return_path = _read_bounces(r, bounces)
    sources = read_sources(r, data, themes)
    theme_rules = read_rules(r, data, "theme_rules", themes)
    texts = r.values(data, TOP, "preheader", "intro", "footer", "quiet_month")
    texts["reply_to"] = mail_address(r, data, "reply_to", r.text(data, "reply_to") or "") or None
    templates = r.value(data, TOP["templates"])
    secrets = r.values(tokens, TOKENS, "secret_env", "secret_file", "old_secrets_env")
    sample_recipient = (r.value(sample, SAMPLE_RECIPIENT["name"]), r.value(sample, SAMPLE_RECIPIENT["email"]))
    logo = read_logo(r, data)
    organisation = read_organisation(r, data)
    summary_words = _summary_words(r, data)
    buttons = r.value(data, TOP["buttons"])
    tracking = r.section(data, "tracking", TRACKING.kinds()) or LineMap()
    count_clicks = bool(r.value(tracking, TRACKING["clicks"]))
    clip = _clip(r, data, archive_url)
    approval = read_approval(r, data)
    timezone = read_timezone(r, data)
    state = _state(r, data, path)
    raise_all(r.errors)  # every value is read above, so every error is reported at once
    return Config(
        path=path.resolve(),
        name=name,
        sender=sender,
        themes=themes,
        unsubscribe_url=unsub_url,
        unsubscribe_mailto=unsub_mailto,
        reply_to=texts["reply_to"],
        subject=subject,
        preheader=texts["preheader"],
        language=language,
        languages=languages,
        language_layout=language_layout,
        list_id=list_id,
        intro=texts["intro"],
        footer=texts["footer"],
        templates=templates,
        colors=colors,
        smtp=smtp,
        dkim=dkim,
        sources=sources,
        theme_rules=theme_rules,
        archive_url=archive_url,
        preferences_url=preferences_url,
        quiet_month=texts["quiet_month"],
        **secrets,
        old_secrets_until=old_until,
        soft_bounce_limit=soft_limit,
        bounce_mailbox=bounce_mailbox,
        bounce_imap=bounce_imap,
        verp=verp,
        bounce_return_path=return_path,
        sample_recipient=sample_recipient,
        subscribe=subscribe,
        logo=logo,
        organisation=organisation,
        summary_words=summary_words,
        buttons=buttons,
        count_clicks=count_clicks,
        clip=clip,
        texts=dict(r.texts),
        approval=approval,
        timezone=timezone,
        state_location=state,
    )


def _state(r: ConfigReader, data: LineMap, path: Path) -> StateLocation | None:
    """`state:` (a SQLite file relative to the config, or a postgresql:// URL); the
    NEWSLETTER_STATE environment variable wins, so one folder can point elsewhere for a run."""
    base = path.resolve().parent
    override = os.environ.get("NEWSLETTER_STATE", "").strip()
    if override:
        try:
            return parse_state(override, base=base)
        except NewsletterError as exc:
            r.errors.append(ConfigError(f"NEWSLETTER_STATE: {exc.message}", hint=exc.hint))
            return None
    value = r.text(data, "state")
    if not value:
        return None
    try:
        return parse_state(value, base=base)
    except NewsletterError as exc:
        r.error(data, "state", exc.message.removeprefix("state: "), exc.hint)
        return None


def _read_bounces(r: ConfigReader, bounces: LineMap) -> tuple[Path | None, str | None, bool, str | None]:
    """`bounces:` mailbox (a folder, or an imaps:// URL), verp and return_path. VERP is on by
    default once a mailbox is configured: that is when someone reads the bounces, and VERP
    is what lets them be trusted."""
    folder = r.text(bounces, "mailbox")
    imap = folder if folder and folder.lower().startswith(("imap://", "imaps://")) else None
    mailbox = (r.path.parent / Path(folder).expanduser()).resolve() if folder and not imap else None
    verp = bounces.get("verp", folder is not None)
    if not isinstance(verp, bool):
        r.error(bounces, "verp", f"must be true or false, not {verp!r}")
        verp = False
    return_path = r.text(bounces, "return_path")
    if return_path is not None:
        local, at, domain = return_path.rpartition("@")
        if not at or not local or "." not in domain or any(c in return_path for c in ' <>"+\r\n'):
            r.error(bounces, "return_path", f"not a plain address: {return_path!r}",
                    "e.g. return_path: bounces@example.org (no name, no '+': VERP adds its own)")
            return_path = None
    return mailbox, imap, verp, return_path


def _clip(r: ConfigReader, data: LineMap, archive_url: str | None) -> str | None:
    """`clip: excerpt | refuse`; the excerpt links to the issue online, so it needs `archive_url`."""
    value = r.value(data, TOP["clip"])
    if value is None:
        return None
    if value not in ("excerpt", "refuse"):
        r.error(data, "clip", f"must be excerpt or refuse, not {value!r}",
                "excerpt: send a short email linking to the full issue online; refuse: fail the build")
        return None
    if value == "excerpt" and not archive_url:
        r.error(data, "clip", "the excerpt links to the full issue online, and there is no `archive_url`",
                "set `archive_url:` to where the archive is published, or use clip: refuse")
    return value


def _summary_words(r: ConfigReader, data: LineMap) -> int | None:
    """How many words of a summary the email shows; fewer than 20 would cut most to one line."""
    value = r.value(data, TOP["summary_words"])
    if value is not None and value < 20:
        r.error(data, "summary_words", f"{value} words cuts most summaries to a fragment",
                "use at least 20, e.g. summary_words: 60, or remove the setting to show whole summaries")
        return None
    return value


def _date(r: ConfigReader, data: LineMap, key: str) -> dt.date | None:
    value = r.text(data, key)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        r.error(data, key, f"not a date: {value!r}", "write it as YYYY-MM-DD")
        return None
