"""MIME bytes for one recipient from a `RenderedIssue`, by substitution, not rebuilding.

`compile_message` encodes the whole multipart/alternative message once, leaving slots for
the per-recipient values; `fill` then joins prebuilt bytes with each value encoded for
its place (an RFC 2047 header, HTML-escaped quoted-printable, plain quoted-printable).
Each static segment is quoted-printable encoded on its own and ends in a soft line break,
so a slot can never be split by a line wrap and no line exceeds 76 octets.
"""

from __future__ import annotations

import base64
import datetime as dt
import gettext
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime, formataddr, parseaddr

from newsletter.config import Config, translations
from newsletter.issue.render import RenderedIssue, greeting_slot
from newsletter.issue.wire import quoted_printable

__all__ = ["MAX_LINE_OCTETS", "Recipient", "MessageTemplate", "compile_message", "fill", "sample_message",
           "clean_header_text", "unsubscribe_url", "preferences_url", "greeting", "greeting_name", "greetings"]

MAX_LINE_OCTETS = 998  # RFC 5322 2.1.1, without the CRLF
ENCODED_WORD_MAX = 75
_SLOT_RE = re.compile(r"@@nl:([a-z0-9_]+)@@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""
    first_name: str = ""  # for the greeting; "" = derived from `name` (see `greeting_name`)


@dataclass(frozen=True)
class MessageTemplate:
    """The message as prebuilt bytes and named slots, ready for `fill`."""

    parts: tuple[bytes | str, ...]
    subject: str
    boundary: str


def clean_header_text(value: str) -> str:
    """One line of text: CR, LF and other controls become spaces, so no header injection."""
    return " ".join(_CONTROL.sub(" ", value).split())


def _encode_header_text(value: str) -> str:
    value = clean_header_text(value)
    if value.isascii() and len(value) < 900:
        return value
    return _encoded_words(value)


def _encoded_words(value: str) -> str:
    """RFC 2047 words of at most 75 characters (the RFC's limit), one per folded line.

    Words break after a space, the space kept inside the earlier word, so a reader that
    (against the RFC) keeps the folding between words still shows the text unchanged.
    """
    words: list[str] = []
    chunk = ""
    for token in re.findall(r"\S+\s*|\s+", value):
        if chunk and len(_b_word(chunk + token)) > ENCODED_WORD_MAX:
            words.append(_b_word(chunk))
            chunk = ""
        chunk += token
        while len(_b_word(chunk)) > ENCODED_WORD_MAX:  # one token too long for a word: cut it
            cut = max(n for n in range(1, len(chunk)) if len(_b_word(chunk[:n])) <= ENCODED_WORD_MAX)
            words.append(_b_word(chunk[:cut]))
            chunk = chunk[cut:]
    words.append(_b_word(chunk))
    return "\r\n ".join(words)


def _b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode('utf-8')).decode('ascii')}?="


def _address(name: str, email: str) -> str:
    """`Name <addr>`; a non-ASCII name becomes RFC 2047 words of at most 75 characters, folded
    (`formataddr` would write one word of any length)."""
    email = clean_header_text(email).replace(" ", "")
    name = clean_header_text(name)
    if name.isascii():
        return formataddr((name, email))
    return f"{_encoded_words(name)} <{email}>"


_qp = quoted_printable  # the same encoding `wire.sent_bytes` measures the HTML part in


def _encode_body(body: str, part: str) -> list[bytes | str]:
    """QP-encode `body` segment by segment; slots become `part:name` entries."""
    pieces: list[bytes | str] = []
    pos = 0
    for match in _SLOT_RE.finditer(body):
        segment = body[pos:match.start()]
        pieces.append((_qp(segment) + ("" if segment.endswith("\n") or not segment else "=\r\n")).encode("ascii"))
        pieces.append(f"{part}:{match.group(1)}")
        pos = match.end()
    tail = body[pos:]
    if not tail.endswith("\n"):
        tail += "\n"
    pieces.append(_qp(tail).encode("ascii") + b"\r\n")  # the CRLF before a boundary is the boundary's
    return pieces


def _boundary(rendered: RenderedIssue) -> str:
    digest = hashlib.sha256((rendered.html + rendered.text).encode("utf-8")).hexdigest()[:24]
    return f"=_nl_{digest}"  # "=_" never occurs in quoted-printable output


def compile_message(rendered: RenderedIssue, config: Config, *, subject_prefix: str = "",
                    extra_headers: tuple[tuple[str, str], ...] = ()) -> MessageTemplate:
    subject = clean_header_text(f"{subject_prefix}{rendered.subject}")
    boundary = _boundary(rendered)
    head: list[bytes | str] = [
        f"From: {_address(*parseaddr(config.sender))}\r\nTo: ".encode("ascii"),
        "h:to",
        f"\r\nSubject: {_encode_header_text(subject)}\r\nDate: ".encode("ascii"),
        "h:date",
        b"\r\nMessage-ID: ",
        "h:message_id",
        b"\r\n",
    ]
    lines = []
    if config.reply_to:
        lines.append(f"Reply-To: {_address(*parseaddr(config.reply_to))}")
    lines.append(f"List-Id: {_encode_header_text(config.name)} <{clean_header_text(config.list_id)}>")
    if config.archive_url:
        archive = config.archive_url.rstrip("/")
        lines.append(f"List-Archive: <{archive}/>")
        lines.append(f"Archived-At: <{config.issue_url(rendered.issue.range.slug)}>")
    for name, value in extra_headers:
        lines.append(f"{name}: {_encode_header_text(value)}")
    head.append(("\r\n".join(lines) + "\r\nList-Unsubscribe: ").encode("ascii"))
    head.append("h:list_unsubscribe")
    head.append(
        (
            "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
            "\r\n"
            f"--{boundary}\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
    )
    middle = (
        f"--{boundary}\r\n"
        'Content-Type: text/html; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")
    parts = [*head, *_encode_body(rendered.text, "text"), middle, *_encode_body(rendered.html, "html"),
             f"--{boundary}--\r\n".encode("ascii")]
    return MessageTemplate(tuple(_merge(parts)), subject, boundary)


def _merge(parts: list[bytes | str]) -> list[bytes | str]:
    """Join neighbouring byte strings so `fill` does as few joins as possible."""
    merged: list[bytes | str] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        elif part != b"":
            merged.append(part)
    return merged


def unsubscribe_url(config: Config, token: str) -> str:
    joiner = "&" if "?" in config.unsubscribe_url else "?"
    return f"{config.unsubscribe_url}{joiner}t={token}"


def preferences_url(config: Config, token: str) -> str:
    base = config.preferences_url or ""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}t={token}"


_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "rev", "revd", "sir", "dame", "cllr"}


def greeting_name(name: str) -> str:
    """What the greeting calls someone, from the list's whole name.

    | name in the list     | greeting name | why                                            |
    |----------------------|---------------|------------------------------------------------|
    | `Jo O'Brien`         | `Jo`          | "Given Family": the given name                 |
    | `O'Brien, Jo`        | `Jo`          | "Family, Given", as CRMs export it             |
    | `Dr Amira Khan`      | `Dr Khan`     | a title goes with the family name, not "Dr,"   |
    | `J. Smith`           | `J. Smith`    | an initial alone is no name to greet           |
    | `Priya`              | `Priya`       | one word: as it is                             |

    A `first_name` column, where the list has one, wins over all of this.
    """
    name = clean_header_text(name)
    family, comma, given = name.partition(",")
    if comma and given.strip() and " " not in family.strip():
        words = given.split() + [family.strip()]  # "O'Brien, Jo" reads as "Jo O'Brien"
    else:
        words = family.split() if comma else name.split()
    if not words:
        return ""
    if words[0].casefold().rstrip(".") in _TITLES:
        return " ".join([words[0], words[-1]]) if len(words) > 1 else words[0]
    if len(words[0].rstrip(".")) <= 1:
        return " ".join(words)
    return words[0]


def greeting(name: str, first_name: str = "", config: Config | None = None) -> str:
    """"Hello Jo,": the `first_name` given, or one derived from the whole name; in the
    config's language (English without a config)."""
    words = translations(config.language, config.locale_dir) if config else gettext.NullTranslations()
    who = clean_header_text(first_name) or greeting_name(name)
    return words.gettext("Hello %(name)s,") % {"name": who} if who else words.gettext("Hello,")


def greetings(name: str, first_name: str, config: Config) -> dict[str, str]:
    """The greeting slots' values: `greeting` in the config's language and, in an email
    stacking languages, one per language (`greeting_cy`: "Helo Anwen,")."""
    values = {"greeting": greeting(name, first_name, config)}
    for tag in config.stacked_languages:
        words = translations(tag, config.locale_dir)
        who = clean_header_text(first_name) or greeting_name(name)
        values[greeting_slot(tag)] = words.gettext("Hello %(name)s,") % {"name": who} if who else words.gettext("Hello,")
    return values


def _values(config: Config, recipient: Recipient, token: str, message_id: str, date: str) -> dict[str, str]:
    unsub = unsubscribe_url(config, token)
    # the token rides in the subject, so `bounces import` knows whom a mailto request is
    # about even when it comes from another address (a forwarding mailbox)
    mailto = f"mailto:{config.unsubscribe_mailto}?subject=unsubscribe%20{token}"
    text = {**greetings(recipient.name, recipient.first_name, config), "unsubscribe_url": unsub,
            "preferences_url": preferences_url(config, token)}
    values = {
        "h:to": _address(recipient.name, recipient.email),
        "h:date": date,
        "h:message_id": message_id,
        "h:list_unsubscribe": f"<{unsub}>,\r\n <{mailto}>",
    }
    for key, value in text.items():
        values[f"text:{key}"] = value
        values[f"html:{key}"] = html.escape(value, quote=True)
    return values


_ENCODERS: dict[str, Callable[[str], bytes]] = {
    "h": lambda v: v.encode("ascii"),
    "text": lambda v: (_qp(v) + "=\r\n").encode("ascii"),
    "html": lambda v: (_qp(v) + "=\r\n").encode("ascii"),
}


def fill(template: MessageTemplate, config: Config, recipient: Recipient, *, token: str,
         message_id: str, date: str | None = None) -> bytes:
    """The complete message for one recipient, as bytes ready for SMTP DATA."""
    values = _values(config, recipient, token, message_id,
                     date or format_datetime(dt.datetime.now(dt.UTC)))
    out = []
    for part in template.parts:
        if isinstance(part, bytes):
            out.append(part)
        else:
            out.append(_ENCODERS[part.partition(":")[0]](values[part]))
    return b"".join(out)


def sample_message(rendered: RenderedIssue, config: Config, token: str) -> bytes:
    """The message the sample recipient would get; fixed Date and Message-ID for determinism."""
    name, email = config.sample_recipient
    end = rendered.issue.range.end
    when = dt.datetime(end.year, end.month, end.day, 8, 0, tzinfo=dt.UTC)
    return fill(compile_message(rendered, config), config, Recipient(email, name), token=token,
                message_id=f"<{rendered.issue.range.slug}.sample@{config.sender_domain}>",
                date=format_datetime(when))
