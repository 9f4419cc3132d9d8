"""Every key of `newsletter.yaml`, declared once: its kind, default and help text.

Like mkdocs' `config/defaults.py`, this table is the one description of the settings.
Four things read it, so they cannot drift apart:

| reader | takes from the table |
|---|---|
| the loader (loader.py, sections.py, brand.py) | the keys a section allows (the did-you-mean offers these), kinds, defaults |
| the section dataclasses (`SmtpConfig`, `Colors`, ...) | their field defaults |
| the configuration reference (docs/reference/config.md) | its tables, written by reference.py (a test keeps it current) |
| `newsletter init` (start/settings.py) | the commented settings of the config it writes |

A new key is one `Key(...)` line in its section here, then whatever its reader checks
beyond the kind. Kinds: `text`, `path` (text, resolved beside the config), `int` and
`float` (positive numbers), `flag` (true/false), `list`, `mapping`, and `texts` (the
officer's own words: one text, or one per language, `{en: ..., cy: ...}`). In an example,
`<theme>` stands for one of the configured themes and `example.org` for the sender's domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["APPROVAL", "REQUIRED", "SECTIONS", "Key", "Section", "TOP"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # a key without a default: the loader reports it missing

# What `ConfigReader.validate` checks for each kind (reader.py words the errors).
CHECKED_AS = {"text": "text", "path": "text", "int": "number", "float": "number", "flag": "flag",
              "list": "list", "mapping": "mapping", "texts": "texts"}


@dataclass(frozen=True)
class Key:
    """One setting. `help` is one plain line (init's comment, the reference's meaning);
    `example` a YAML value to show when the default is not worth showing; `shown` how the
    reference writes the default when not as the value itself; `more` Markdown only the
    reference shows (links, detail); `type` the reference's word for the kind."""

    name: str
    kind: str
    default: Any
    help: str
    example: str = ""
    shown: str = ""
    type: str = ""
    more: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Section:
    """The keys of one mapping in the config; `name` is "" for the top level."""

    name: str
    keys: tuple[Key, ...]

    def __getitem__(self, name: str) -> Key:
        for key in self.keys:
            if key.name == name:
                return key
        raise KeyError(f"{self.name or 'top level'}: no key {name!r} in config/schema.py")

    def default(self, name: str) -> Any:
        """The default of one key, for the dataclasses' fields and the readers."""
        return self[name].default

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    def kinds(self) -> dict[str, str]:
        """Name -> the kind `ConfigReader.validate` checks."""
        return {key.name: CHECKED_AS[key.kind] for key in self.keys}


def _url(example: str) -> dict[str, str]:
    return {"type": "https URL", "example": example}


ADDRESS = '`"Name <address>"`'
DEFAULT_CONSENT = ("I would like to receive {name} by email. I can unsubscribe at any time "
                   "with the link in every email.")

TOP = Section("", (
    Key("name", "text", REQUIRED, "the newsletter's name (masthead, `List-Id`, subject)", "Safeguarding digest"),
    Key("from", "text", REQUIRED, "the sender, also the envelope sender that bounces go to",
        '"Example Trust Learning <digest@example.org>"', type=ADDRESS),
    Key("reply_to", "text", None, "where replies go", '"Example Trust Learning <learning@example.org>"', type=ADDRESS),
    Key("subject", "texts", "{name}: {period}", "the subject; placeholders `{name}`, `{period}`, `{count}`, `{themes}`",
        "\"{name}: what's new in {period}\"", type="text template"),
    Key("preheader", "texts", None, "the hidden inbox preview line, 40 characters or more",
        '"New research, policy and practice in child protection"', shown="the table of contents"),
    Key("language", "text", "en", "the language of the email's own words, its dates and `<html lang>`", "cy",
        type="language tag", more="(bundled: `en`, `cy`, `de`, `es`, `fr`; [guide](../guides/languages.md))"),
    Key("languages", "list", None, "the languages readers may choose (the subscriber list's `language` column, "
        "the sign-up and topics pages); each reader gets the issue in theirs", "[cy, en]",
        type="list of language tags", shown="`language` only",
        more="([bilingual lists](../guides/languages.md#bilingual-lists))"),
    Key("language_layout", "text", "separate", "with several `languages`: separate (each reader gets the issue in "
        "theirs) or stacked (everyone gets one email with every language, first listed first)", "stacked",
        type="separate or stacked",
        more="(stacked ignores the list's `language` column; [both languages in one email]"
             "(../guides/languages.md#both-languages-in-one-email))"),
    Key("intro", "texts", None, "a paragraph at the top of every issue", '"Here is our round-up of the month."'),
    Key("footer", "texts", None, "a paragraph at the bottom, above the unsubscribe links",
        '"You receive this digest because you signed up at a training event."'),
    Key("themes", "list", REQUIRED, "theme display names, in display order", "[Domestic abuse, Neglect]",
        type="list of text"),
    Key("unsubscribe", "mapping", REQUIRED, "the one-click unsubscribe endpoint and the mailto",
        more="([below](#unsubscribe))"),
    Key("preferences_url", "text", None, 'the public address of the "Manage your topics" page',
        shown="none (no page, no link)", more="([guide](../guides/topics.md))",
        **_url("https://example.org/unsubscribe/preferences")),
    Key("quiet_month", "texts", None, "a short note for subscribers whose chosen themes have no items in an issue",
        '"Nothing new in your topics this month."', shown="none (quiet subscribers are skipped)",
        more="([guide](../guides/topics.md))"),
    Key("archive_url", "text", None, "where the web archive is published",
        more='(emails get a "View it in your browser" link to `<archive_url>/<slug>/` and `List-Archive`/'
             "`Archived-At` headers; the archive's feed and sitemap use it for absolute URLs; "
             "[guide](../guides/archive.md))",
        **_url("https://example.org/digest")),
    Key("templates", "path", None, "a folder of your own templates, searched before the bundled ones", "templates",
        type="folder", more="([Templates](templates.md))"),
    Key("colors", "mapping", None, "the email's palette: text, background, accent, muted, page",
        shown="see [below](#colors)"),
    Key("list_id", "text", None, "the `List-Id`; changing it invalidates every unsubscribe link already sent",
        "digest.example.org", shown="`<name-slug>.<sender domain>`"),
    Key("sample_recipient", "mapping", None, "who `sample.eml` and `email.html` are addressed to",
        shown="see [below](#sample_recipient)"),
    Key("smtp", "mapping", None, "the SMTP relay `send` delivers through", shown="none: the local outbox",
        more="([below](#smtp))"),
    Key("dkim", "mapping", None, "sign outgoing mail", shown="none: not signed", more="([below](#dkim))"),
    Key("tokens", "mapping", None, "where the unsubscribe-token secret comes from, and its rotation",
        shown="see [below](#tokens)"),
    Key("bounces", "mapping", None, "the bounce mailbox, VERP and the soft-bounce limit",
        shown="see [below](#bounces)"),
    Key("logo", "mapping", None, "the masthead image, an https address", shown="none: a text masthead",
        more="([below](#logo), [Branding](../guides/branding.md))"),
    Key("organisation", "mapping", None, "who sends it, shown in every footer of the email, the subscriber site and "
        "the confirmation mail", shown="none",
        more="([below](#organisation), [Branding](../guides/branding.md))"),
    Key("summary_words", "int", None, "longer summaries end at a sentence, before the item's link", "60",
        shown="none: whole summaries", type="whole number (at least 20)",
        more="(the link is the item's one call to read on; an item without links keeps its whole summary)"),
    Key("buttons", "flag", False, "each item's first link as a button (with an Outlook fallback)",
        more='(screen readers hear it with the item\'s title: "Read the report: <title>")'),
    Key("clip", "text", None, "what the build does with an email Gmail would clip: excerpt or refuse", "excerpt",
        shown="`excerpt` with an `archive_url`, else `refuse`", type="`excerpt` or `refuse`",
        more="(`excerpt` builds a short email of titles and first lines linking to the issue online, and "
             "needs `archive_url`; `refuse` fails the build; "
             "[Build and preview](build-preview.md#when-an-issue-is-too-big-for-one-email))"),
    Key("tracking", "mapping", None, "counted links: which items readers follow, with no reader identity",
        shown="none: nothing counted", more="([below](#tracking))"),
    Key("subscribe", "mapping", None, "the double opt-in sign-up page", shown="none: no sign-up page",
        more="([below](#subscribe))"),
    Key("sources", "list", None, "feeds and spreadsheets `collect` reads", shown="none", type="list of mappings",
        more="([below](#sources))"),
    Key("theme_rules", "mapping", None, "keywords that place collected entries in a theme",
        '{"<theme>": [neglect*, "tag:domestic abuse"]}', shown="none", more="([below](#sources))"),
    Key("state", "text", None, "where the state lives: a SQLite file beside this one, or a postgresql:// URL "
        "shared by the site and the sender", "postgresql://newsletter@db.example.org/newsletter",
        shown="`newsletter.db` beside this file", type="file or `postgresql://` URL",
        more="(`?sslmode=verify-full&password_env=NEWSLETTER_DB_PASSWORD`; `NEWSLETTER_STATE` overrides it; "
             "[Share one state between machines](../guides/shared-state.md))"),
    Key("timezone", "text", None, "the zone `send --at` and `schedule --at` times are read and printed in",
        "Europe/London", shown="the machine's zone", type="IANA zone name"),
    Key("approval", "mapping", None, "who approves an issue, the reminder, how late a scheduled send may go",
        shown="none: approval optional", more="([below](#approval))"),
))

APPROVAL = Section("approval", (
    Key("required", "flag", False, "a manual `send` also needs the build as approved (`--test` never does)"),
    Key("notify", "list", None, "who is mailed when a scheduled send does not go (changed, failing checks, missed)",
        "[editor@example.org]", shown="none", type="list of addresses"),
    Key("approvers", "list", None, "who gets the reminder besides the officer (`reply_to`, else `from`)",
        "[editor@example.org]", shown="none", type="list of addresses"),
    Key("remind_on", "int", None, "the day of the month `newsletter remind` mails a test copy and the approval link",
        "25", shown="none: no reminder", type="day of the month, 1-28"),
    Key("preview_url", "text", "http://127.0.0.1:8000/", "the preview page the reminder links to (its Approve panel)",
        type="http(s) URL"),
    Key("grace_minutes", "int", 60, "how late (machine asleep or off) a scheduled send may still go; later, it "
        "reports a missed schedule", type="whole number"),
))

UNSUBSCRIBE = Section("unsubscribe", (
    Key("url", "text", REQUIRED, "the unsubscribe page and one-click endpoint, served by `newsletter serve`",
        **_url("https://example.org/unsubscribe")),
    Key("mailto", "text", REQUIRED, "the address in `List-Unsubscribe` for mail clients that write an email",
        "unsubscribe@example.org", type="address",
        more="(record those with `newsletter suppress add`)"),
))

_COLOR = {"type": "`#rrggbb`"}
COLORS = Section("colors", (
    Key("text", "text", "#1f2933", "body text", **_COLOR),
    Key("background", "text", "#ffffff", "the email's content area", **_COLOR),
    Key("accent", "text", "#0b5cad", "links, the masthead, section rules, buttons", **_COLOR),
    Key("muted", "text", "#52606d", "dates, sources, the footer", **_COLOR),
    Key("page", "text", "#f0f2f5", "around the content area", **_COLOR),
))

SMTP = Section("smtp", (
    Key("host", "text", REQUIRED, "the relay: your provider's SMTP endpoint, or a local Postfix", "smtp.example.org"),
    Key("port", "int", 587, "the relay's port (465 with `security: tls`)"),
    Key("security", "text", "starttls", "`starttls`, `tls` (implicit TLS, usually port 465) or `none`"),
    Key("username", "text", None, "log in (AUTH) with this name; only over TLS unless the host is loopback",
        "digest@example.org"),
    Key("password_env", "text", "NEWSLETTER_SMTP_PASSWORD", "the environment variable holding the password",
        type="variable name"),
    Key("password_file", "path", None, "or a file holding the password", "smtp-password.txt"),
    Key("concurrency", "int", 4, "connections at once (`--concurrency` overrides)"),
    Key("rate", "float", None, "messages per second across all connections", "10",
        shown="none: as fast as the relay takes them", more="(the relay may still throttle: that is handled)"),
    Key("reconnect_after", "int", 500, "messages per connection before a fresh one"),
    Key("timeout", "float", 30.0, "seconds to wait for each reply to MAIL FROM, RCPT TO and DATA; each step of "
        "opening a connection (greeting, EHLO, STARTTLS, login) waits at most 20 s of it, and the reply to a "
        "whole message four times as long"),
    Key("max_connection_failures", "int", 5, "connection failures in a row on every connection before the run stops"),
    Key("allow_insecure", "flag", False, "allow `security: none` to a non-loopback host (never with AUTH)"),
    Key("retries", "int", 5, "attempts per recipient on 4xx replies within one run"),
    Key("retry_delay", "float", 2.0, "seconds before the first retry or reconnect; doubles each time, at most 60"),
    Key("ca_file", "path", None, "extra CA certificates to trust (a relay with a private CA)", "relay-ca.pem"),
))

DKIM = Section("dkim", (
    Key("domain", "text", REQUIRED, "the signing domain (d=), usually the From address's", "example.org",
        type="domain"),
    Key("selector", "text", REQUIRED, "the key's name in DNS (s=): receivers fetch SELECTOR._domainkey.DOMAIN",
        "nl2024"),
    Key("key_file", "path", None, "the PEM RSA private key (PKCS#1 or PKCS#8, unencrypted)", "dkim-nl2024.key"),
    Key("key_env", "text", None, "or an environment variable holding the PEM (newlines may be written as `\\n`)",
        "NEWSLETTER_DKIM_KEY", type="variable name"),
))

TOKENS = Section("tokens", (
    Key("secret_env", "text", "NEWSLETTER_TOKEN_SECRET", "the environment variable holding the token secret",
        type="variable name"),
    Key("secret_file", "path", None, "a file holding the secret instead", "/etc/newsletter/token-secret",
        shown="none (then `.newsletter-secret` beside the config)"),
    Key("old_secrets_env", "text", "NEWSLETTER_TOKEN_SECRET_OLD",
        "the variable holding retired secrets (comma-separated)", type="variable name"),
    Key("old_secrets_until", "text", None, "the last day retired secrets are accepted", "2024-03-31",
        shown="none (accepted until removed)", type="`YYYY-MM-DD`"),
))

BOUNCES = Section("bounces", (
    Key("soft_limit", "int", 3, "soft-bounced runs in a row before an address is suppressed"),
    Key("mailbox", "text", None, "the Maildir (or mbox) bounces arrive in, or an IMAP folder "
        "(`imaps://user@host/INBOX`, password in $NEWSLETTER_IMAP_PASSWORD); `bounces import` reads it (~/ works)",
        "~/Maildir/bounces", type="folder"),
    Key("verp", "flag", None, "a signed return path per message, so only genuine bounces name a recipient",
        "true", shown="true once `mailbox` is set", more="(`local+b<run>-<token>@domain`)"),
    Key("return_path", "text", None, "the envelope sender VERP builds on (no name, no +)", "bounces@example.org",
        shown="the `from` address", type="plain address"),
))

SAMPLE_RECIPIENT = Section("sample_recipient", (
    Key("name", "text", "Sam Sample", "the name `sample.eml` and `email.html` greet"),
    Key("email", "text", "sam.sample@example.org", "the address they are sent to"),
))

SUBSCRIBE = Section("subscribe", (
    Key("url", "text", REQUIRED, "where the sign-up page is served (a path of its own on the subscriber site)",
        **_url("https://example.org/subscribe")),
    Key("consent", "texts", DEFAULT_CONSENT, "the consent wording shown on the form and kept on record",
        '"Yes, send me the monthly digest."', shown="a sentence naming the list"),
    Key("expires_days", "int", 7, "how long a confirmation link works, in days"),
    Key("min_seconds", "float", 3.0, "a form posted sooner after it was shown is asked again (simple bots)"),
    Key("client_limit", "int", 10, "sign-ups per client network (IPv4 address, IPv6 /64) per hour"),
    Key("hourly_limit", "int", 200, "confirmation mails per hour in all; beyond it none go, with a warning in the log"),
    Key("allowed_origins", "list", (), "other sites whose pasted form posts here in one press",
        '["https://www.example.org"]', shown="none", type="list of origins",
        more="(posts from any other site are refused; [guide](../guides/sign-up.md#put-the-form-on-your-own-website))"),
    Key("welcome", "flag", False, "mail a welcome (`templates/subscribe/welcome.txt`) after someone confirms"),
))

SOURCES = Section("sources", (
    Key("url", "text", REQUIRED, "an http(s) feed URL, a feed file or a .csv spreadsheet (paths beside the config)",
        "https://learning.example.org/news/feed.xml", type="URL or path"),
    Key("name", "text", REQUIRED, "written as each collected item's `source`", "Example learning service"),
    Key("theme", "text", None, "the theme for entries none of this source's own rules place", "<theme>",
        type="a configured theme"),
    Key("rules", "mapping", None, "this source's own {theme: [keywords]}, tried first",
        '{"<theme>": [grooming, "tag:online safety"]}'),
))

LOGO = Section("logo", (
    Key("src", "text", REQUIRED, "the image's https address (mail clients load it from the web)",
        **_url("https://example.org/logo.png")),
    Key("alt", "text", REQUIRED, "what the logo shows, for readers who do not see it", '"Example Trust"'),
    Key("width", "int", REQUIRED, "the width in pixels to show it at (at most 552)", "160",
        type="whole number"),
    Key("height", "int", None, "the height in pixels, when known (keeps the space while it loads)", "48",
        type="whole number"),
))

ORGANISATION = Section("organisation", (
    Key("name", "text", REQUIRED, "the organisation's name", "Example Trust"),
    Key("address", "text", None, "the postal address (UK and US rules for marketing mail ask for one)",
        '"42 Weston Street, London SE1 3QD"'),
    Key("registered", "text", None, "a registration line", '"Registered charity 1234567"'),
    Key("contact", "text", None, "a contact page or an email address", "https://example.org/contact",
        type="https URL or address"),
    Key("privacy_url", "text", None, 'the privacy notice: a "Privacy notice" link in every footer',
        "https://example.org/privacy", type="http(s) URL",
        more="(of the email, the subscriber site and the confirmation mail)"),
))

TRACKING = Section("tracking", (
    Key("clicks", "flag", False, "send item links through the subscriber site's `/r/` route, which counts them",
        more="(the same link for every reader: no pixel, no per-reader link, no cookie; "
             "[guide](../guides/reading.md))"),
))

# Every mapping the config holds, by the key it sits under (the top level is "").
SECTIONS: dict[str, Section] = {section.name: section for section in (
    TOP, UNSUBSCRIBE, COLORS, SMTP, DKIM, TOKENS, BOUNCES, SAMPLE_RECIPIENT, SUBSCRIBE, SOURCES, LOGO, ORGANISATION,
    APPROVAL, TRACKING)}
