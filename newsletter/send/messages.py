"""Per recipient: the right compiled message, filled in, signed and made ready for SMTP.

The issue is compiled once per theme variant (`TemplateCache`); per recipient only the
slots are filled (`compose.fill`), with a fresh unsubscribe token, Message-ID and date.
`Composer.wire` also does SMTP's dot-stuffing ahead of time, once per template, so the
pool need not scan each ~60 KB message; `Composer.message` gives the bytes as the
subscriber receives them (what DKIM signs and a dry run checks). Kept apart from the
send loop so that a run, a dry run and a test send all make messages the same way.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from email.utils import parseaddr

from newsletter.audience.subscribers import Subscriber
from newsletter.audience.verp import verp_address
from newsletter.config.loader import Config
from newsletter.errors import SendError
from newsletter.issue.compose import (
    MAX_LINE_OCTETS,
    MessageTemplate,
    Recipient,
    compile_message,
    fill,
)
from newsletter.issue.render import RenderedIssue
from newsletter.issue.variants import Variants
from newsletter.send.dkim import Signer
from newsletter.tokens import SECRET_FILE, load_secrets, make_token

__all__ = [
    "Composer",
    "TemplateCache",
    "envelope_sender",
    "load_signer_for",
    "long_header_line",
    "new_message_id",
    "unsubscribe_keys",
]




@functools.lru_cache(maxsize=8)
def _address_of(sender: str) -> str:
    """`config.sender_address` parses the From line on every call; per message that shows."""
    return parseaddr(sender)[1]


def envelope_sender(config: Config, recipient: Subscriber, *, run_id: int | None = None,
                    key: bytes | None = None) -> str:
    """MAIL FROM for this recipient: where its bounce goes.

    With `bounces.verp` on (and a run and token key to sign with), a return path of its
    own (`audience/verp.py`), so a bounce names its run and recipient and cannot be forged;
    otherwise `bounces.return_path` or the `from` address.
    """
    if config.verp and run_id is not None and key is not None:
        return verp_address(config.return_path, key, run_id, recipient.email)
    return config.bounce_return_path or _address_of(config.sender)


def new_message_id(config: Config, run_id: int | str) -> str:
    """`<run-id.random@sender-domain>`: unique per recipient and run, kept across retries."""
    domain = _address_of(config.sender).rpartition("@")[2]
    return f"<nl{run_id}.{secrets.token_hex(10)}@{domain}>"


class TemplateCache:
    """Compiled messages by variant; every per-recipient choice goes through `template_for`.

    The key is the recipient's theme variant (`variants.Variants.key`: None = the whole
    issue); each distinct variant is rendered and compiled once, on first use.
    """

    def __init__(self, rendered: RenderedIssue, config: Config, *, subject_prefix: str = "",
                 variants: Variants | None = None) -> None:
        self.rendered = rendered
        self.config = config
        self.subject_prefix = subject_prefix
        self.variants = variants or Variants(rendered, config)
        self._compiled: dict[object, MessageTemplate] = {}

    def variant(self, recipient: Subscriber) -> object:
        """The cache key for this recipient's message; None = the whole issue."""
        return self.variants.key(recipient.themes)

    def template_for(self, recipient: Subscriber) -> MessageTemplate:
        key = self.variant(recipient)
        template = self._compiled.get(key)
        if template is None:
            rendered = self.variants.rendered(key)  # type: ignore[arg-type]
            template = compile_message(rendered, self.config, subject_prefix=self.subject_prefix)
            _check_static_lines(template)
            self._compiled[key] = template
        return template

    def digest(self) -> str:
        """Identifies the issue's content; a resumed run warns when it changed."""
        template = self.template_for(Subscriber(""))
        h = hashlib.sha256(template.subject.encode())
        for part in template.parts:
            h.update(part if isinstance(part, bytes) else part.encode())
        return h.hexdigest()[:16]


def _check_static_lines(template: MessageTemplate) -> None:
    """Once per template: lines within SMTP's limit and CRLF-only, as the pool relies on."""
    for part in template.parts:
        if not isinstance(part, bytes):
            continue
        if any(len(line) > MAX_LINE_OCTETS for line in part.split(b"\r\n")) or \
                part.count(b"\n") != part.count(b"\r\n") or part.count(b"\r") != part.count(b"\r\n"):
            raise SendError(f"the compiled message has a line over {MAX_LINE_OCTETS} octets or a bare CR/LF",
                            hint="this is a bug in the templates or compose; please report it")


def long_header_line(message: bytes) -> bool:
    """Per message only the header block has per-recipient text that could make a long line."""
    head = message[: message.find(b"\r\n\r\n")]
    return any(len(line) > MAX_LINE_OCTETS for line in head.split(b"\r\n"))


class _Transparent:
    """A template with SMTP dot-stuffing done ahead, so the pool need not scan each message.

    A line starting with "." must go out as "..". The issue's static parts (its CSS has
    many such lines) are stuffed once here; per message only the short slot values are
    checked. The values come from `fill` on a template of just the slots, so they are
    encoded exactly as `fill` encodes them. `wire()` equals stuffing `fill()`'s output.
    """

    SEPARATOR = b"\x00"  # never in an encoded value (ASCII, controls removed)

    def __init__(self, template: MessageTemplate) -> None:
        slots = [part for part in template.parts if isinstance(part, str)]
        joined: list[bytes | str] = []
        for slot in slots:
            joined += [slot, self.SEPARATOR]
        self.values_only = MessageTemplate(tuple(joined[:-1]), template.subject, template.boundary)
        self.layout: list[int | tuple[bytes, bool, bool]] = []  # slot index | (stuffed, starts ".", ends CRLF)
        index = 0
        for part in template.parts:
            if isinstance(part, str):
                self.layout.append(index)
                index += 1
            else:
                self.layout.append((part.replace(b"\r\n.", b"\r\n.."), part.startswith(b"."), part.endswith(b"\r\n")))
        self.usable = not any(isinstance(p, bytes) and p.endswith(b"\r") for p in template.parts)

    def wire(self, config: Config, recipient: Recipient, **values: str) -> bytes:
        encoded = fill(self.values_only, config, recipient, **values).split(self.SEPARATOR)  # type: ignore[arg-type]
        out = []
        line_start = True
        for item in self.layout:
            if isinstance(item, int):
                value = encoded[item]
                if b"\r\n." in value:
                    value = value.replace(b"\r\n.", b"\r\n..")
                if line_start and value.startswith(b"."):
                    out.append(b".")
                out.append(value)
                line_start = value.endswith(b"\r\n")
            else:
                stuffed, starts_with_dot, ends_line = item
                if line_start and starts_with_dot:
                    out.append(b".")
                out.append(stuffed)
                line_start = ends_line
        return b"".join(out)


class Composer:
    """Per recipient: pick the template, fill it, sign it. The cheap part of sending."""

    def __init__(self, config: Config, cache: TemplateCache, keys: list[bytes], signer: Signer | None) -> None:
        self.config = config
        self.cache = cache
        self.key = keys[0]
        self.signer = signer
        self._transparent: dict[int, _Transparent] = {}

    def message(self, subscriber: Subscriber, message_id: str, date: str) -> bytes:
        """The message as the subscriber receives it (what DKIM signs and dry runs check)."""
        template = self.cache.template_for(subscriber)
        token = make_token(self.key, self.config.list_id, subscriber.email)
        data = fill(template, self.config, Recipient(subscriber.email, subscriber.name),
                    token=token, message_id=message_id, date=date)
        if self.signer is None:
            return data
        signed = self.signer(data)
        added = signed[: len(signed) - len(data)] if signed.endswith(data) else signed
        if added.count(b"\n") != added.count(b"\r\n"):  # the pool sends bytes as they are
            signed = re.sub(rb"\r?\n", b"\r\n", signed)
        return signed

    def wire(self, subscriber: Subscriber, message_id: str, date: str) -> tuple[bytes, bool]:
        """(bytes for DATA, already dot-stuffed?): the fast path when nothing signs the message."""
        template = self.cache.template_for(subscriber)
        transparent = self._transparent.get(id(template))
        if transparent is None:
            transparent = self._transparent[id(template)] = _Transparent(template)
        if self.signer is not None or not transparent.usable:
            return self.message(subscriber, message_id, date), False
        token = make_token(self.key, self.config.list_id, subscriber.email)
        return transparent.wire(self.config, Recipient(subscriber.email, subscriber.name), token=token,
                                message_id=message_id, date=date), True


def load_signer_for(config: Config) -> Signer | None:
    """The DKIM signer (dkim.py), loaded once per run; None without a `dkim:` block."""
    if config.dkim is None:
        return None
    from newsletter.send.dkim import load_signer

    return load_signer(config)


def unsubscribe_keys(config: Config) -> list[bytes]:
    """The keys unsubscribe tokens are made with: the current secret first, then old ones.

    With no secret set, `.newsletter-secret` beside the config is made (mode 0600) and
    used, for the outbox and a relay alike; the subscriber site reads the same file.
    """
    return load_secrets(config.secret_env, config.secret_file, old_env=config.old_secrets_env,
                        old_until=config.old_secrets_until, create_in=config.root / SECRET_FILE)
