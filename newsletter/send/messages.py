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

from newsletter.audience import Subscriber, verp_address
from newsletter.config import Config
from newsletter.errors import SendError
from newsletter.issue import MAX_LINE_OCTETS, MessageTemplate, Recipient, RenderedIssue, Variants, compile_message, fill
from newsletter.send.dkim import DkimSigner, Unsigned, load_signer
from newsletter.send.dkimhash import BodyHash, HeaderHash
from newsletter.send.signworker import sign_digest
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

    The key is the recipient's language and theme variant (`variants.Variants.key`: None =
    the whole issue); each distinct variant is rendered and compiled once, on first use.
    """

    def __init__(self, rendered: RenderedIssue, config: Config, *, subject_prefix: str = "",
                 variants: Variants | None = None) -> None:
        self.rendered = rendered
        self.config = config
        self.subject_prefix = subject_prefix
        self.variants = variants or Variants(rendered, config)
        self._compiled: dict[object, MessageTemplate] = {}

    def variant(self, recipient: Subscriber) -> object:
        """The cache key for this recipient's message: their language ("" = the config's)
        and theme variant (None = the whole issue)."""
        variants = self.variants.for_language(recipient.language)
        return (variants.config.language, variants.key(recipient.themes))

    def config_for(self, recipient: Subscriber) -> Config:
        """The config as this recipient reads it: their language's words (the greeting)."""
        return self.variants.for_language(recipient.language).config

    def template_for(self, recipient: Subscriber) -> MessageTemplate:
        key = self.variant(recipient)
        template = self._compiled.get(key)
        if template is None:
            variants = self.variants.for_language(recipient.language)
            rendered = variants.rendered(variants.key(recipient.themes))
            template = compile_message(rendered, variants.config, subject_prefix=self.subject_prefix)
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

    def values(self, config: Config, recipient: Recipient, **values: str) -> list[bytes]:
        """Each slot's value, encoded for its place exactly as `fill` encodes it."""
        return fill(self.values_only, config, recipient, **values).split(self.SEPARATOR)

    def wire(self, config: Config, recipient: Recipient, **values: str) -> bytes:
        return self.wire_from(self.values(config, recipient, **values))

    def wire_from(self, encoded: list[bytes]) -> bytes:
        """The dot-stuffed message for these encoded slot values."""
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


class _SigningPlan:
    """A template split for DKIM: its header block and body, each hashed with what every
    message shares done once (send/dkimhash.py). Per message only the lines holding a
    slot are canonicalised; `usable` is False for a template the shortcut cannot take
    (then the caller signs the whole message the slow way).
    """

    def __init__(self, template: MessageTemplate) -> None:
        head: list[bytes | int] = []
        body: list[bytes | int] = []
        index = 0
        in_head = True
        for part in template.parts:
            if isinstance(part, str):
                (head if in_head else body).append(index)
                index += 1
            elif in_head and b"\r\n\r\n" in part:
                cut = part.index(b"\r\n\r\n")
                head.append(part[:cut])
                body.append(part[cut + 4:])
                in_head = False
            else:
                (head if in_head else body).append(part)
        self.headers = HeaderHash(head)
        self.usable = not in_head and self.headers.usable
        self.body = BodyHash(body)


class Composer:
    """Per recipient: pick the template, fill it, sign it. The cheap part of sending."""

    def __init__(self, config: Config, cache: TemplateCache, keys: list[bytes], signer: DkimSigner | None) -> None:
        self.config = config
        self.cache = cache
        self.key = keys[0]
        self.signer = signer
        self._transparent: dict[int, _Transparent] = {}
        self._signing: dict[int, _SigningPlan] = {}

    def message(self, subscriber: Subscriber, message_id: str, date: str) -> bytes:
        """The message as the subscriber receives it (what DKIM signs and dry runs check)."""
        template = self.cache.template_for(subscriber)
        token = make_token(self.key, self.config.list_id, subscriber.email)
        recipient = Recipient(subscriber.email, subscriber.name, subscriber.first_name)
        data = fill(template, self.cache.config_for(subscriber), recipient, token=token, message_id=message_id, date=date)
        if self.signer is None:
            return data
        signed = self.signer(data)
        added = signed[: len(signed) - len(data)] if signed.endswith(data) else signed
        if added.count(b"\n") != added.count(b"\r\n"):  # the pool sends bytes as they are
            signed = re.sub(rb"\r?\n", b"\r\n", signed)
        return signed

    def _transparent_for(self, template: MessageTemplate) -> _Transparent:
        transparent = self._transparent.get(id(template))
        if transparent is None:
            transparent = self._transparent[id(template)] = _Transparent(template)
        return transparent

    def wire(self, subscriber: Subscriber, message_id: str, date: str) -> tuple[bytes, bool]:
        """(bytes for DATA, already dot-stuffed?), signed here in this process when DKIM is on."""
        prepared = self.prepare(subscriber, message_id, date)
        if prepared is None:
            return self.message(subscriber, message_id, date), False
        data, unsigned = prepared
        if unsigned is None or self.signer is None:
            return data, True
        return self.finish(data, unsigned, sign_digest(self.signer.key, unsigned.digest)), True

    def prepare(self, subscriber: Subscriber, message_id: str, date: str) -> tuple[bytes, Unsigned | None] | None:
        """The dot-stuffed message and, with DKIM, what is left to sign (the RSA step).

        None when the template cannot take the fast path; then `message` makes it whole.
        The signature goes on with `finish`, here or after a worker process signed
        `Unsigned.digest` (send/signpool.py).
        """
        template = self.cache.template_for(subscriber)
        transparent = self._transparent_for(template)
        if not transparent.usable:
            return None
        token = make_token(self.key, self.config.list_id, subscriber.email)
        recipient = Recipient(subscriber.email, subscriber.name, subscriber.first_name)
        encoded = transparent.values(self.cache.config_for(subscriber), recipient, token=token, message_id=message_id, date=date)
        if self.signer is None:
            return transparent.wire_from(encoded), None
        plan = self._signing.get(id(template))
        if plan is None:
            plan = self._signing[id(template)] = _SigningPlan(template)
        if not plan.usable:
            return None
        unsigned = self.signer.unsigned_from(plan.headers, encoded, plan.body.digest(encoded))
        if unsigned is None:
            return None
        return transparent.wire_from(encoded), unsigned

    @staticmethod
    def finish(data: bytes, unsigned: Unsigned, signature: bytes) -> bytes:
        """The DKIM-Signature before the (already stuffed) message: its lines never start with a dot."""
        return DkimSigner.header(unsigned, signature) + data


def load_signer_for(config: Config) -> DkimSigner | None:
    """The DKIM signer (dkim.py), loaded once per run; None without a `dkim:` block."""
    if config.dkim is None:
        return None
    return load_signer(config)


def unsubscribe_keys(config: Config) -> list[bytes]:
    """The keys unsubscribe tokens are made with: the current secret first, then old ones.

    With no secret set, `.newsletter-secret` beside the config is made (mode 0600) and
    used, for the outbox and a relay alike; the subscriber site reads the same file.
    """
    return load_secrets(config.secret_env, config.secret_file, old_env=config.old_secrets_env,
                        old_until=config.old_secrets_until, create_in=config.root / SECRET_FILE)
