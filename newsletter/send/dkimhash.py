"""DKIM's hashing half: the body and header hashes a signature covers, made cheap per message.

A run signs thousands of messages cut from a few compiled templates, each differing from
the next in a few short slots (the greeting, the To line, the unsubscribe link). Relaxed
canonicalization works line by line, so everything outside those lines is canonicalised
once per template here and only the slot lines per message:

- `BodyHash`: the body's static lines canonical once, the hash state of its leading
  static lines kept; per message the slot lines, then one SHA-256 pass over the rest.
- `HeaderHash`: each header field canonical once unless it holds a slot, and which fields
  the signature selects (and in what order) worked out once.
- `Shape`: the DKIM-Signature line itself. Its variable values (`bh=`, `b=`) are base64 of
  fixed length, so dkimpy's folding puts its line breaks in the same places for every
  message of the same second; the folded line is made once with placeholders and filled.

Every result is byte for byte what dkimpy computes (tests/send/test_dkim.py and
tests/send/test_dkim_pool.py compare them); anything these shortcuts cannot vouch for
(a slot value that would start a header line of its own) returns None, and the caller
signs that message the whole way.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter

import dkim
from dkim.canonicalization import (
    compress_whitespace,
    correct_empty_body,
    strip_trailing_lines,
    strip_trailing_whitespace,
)

__all__ = ["OPTIONAL_SIGNED_HEADERS", "SIGNED_HEADERS", "BodyHash", "HeaderHash", "Shape", "body_hash",
           "canonical_body", "parse_head", "relaxed_value", "select_headers", "signed_names", "split_raw"]

#: Always signed, present or not, and oversigned: each is listed in `h=` once more than the
#: message has it, so a copy added in transit (an extra Subject or List-Unsubscribe
#: prepended, a Cc or Sender that was not there) breaks the signature (RFC 6376 8.15).
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
    b"list-unsubscribe", b"list-unsubscribe-post", b"reply-to", b"sender", b"cc",
    b"mime-version", b"content-type",
)
#: Signed (and oversigned) too when the message has them.
OPTIONAL_SIGNED_HEADERS: tuple[bytes, ...] = (b"list-archive", b"archived-at")

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")  # printable, no colon (RFC 5322 ftext)
_NEW_LINE = re.compile(rb"\r\n(?![ \t])|\r(?!\n)|(?<!\r)\n")  # a break that is not a folding one
_SLOT = re.compile(rb"\x00(\d+)\x00")  # a slot's place in a header template
_RUN = re.compile(rb"([\x01\x02]+)")  # a placeholder run in a Shape
_UNFOLD = re.compile(rb"\r?\n")
_WSP = re.compile(rb"[\t ]+")


def signed_names(present: Counter[bytes]) -> tuple[bytes, ...]:
    """The `h=` list: every signed header once more than the message has it (oversigned)."""
    names = SIGNED_HEADERS + tuple(h for h in OPTIONAL_SIGNED_HEADERS if h in present)
    return tuple(name for name in names for _ in range(present[name] + 1))


def relaxed_value(value: bytes) -> bytes:
    """A header value relaxed-canonical, as dkimpy's `Relaxed.canonicalize_headers` makes it,
    with each regex run only when its input has something for it."""
    if b"\n" in value:
        value = _UNFOLD.sub(b"", value)
    if b"\t" in value or b"  " in value:
        value = _WSP.sub(b" ", value)
    return value.strip() + b"\r\n"


def _canonical_lines(body: bytes) -> bytes:
    """The line-by-line steps of relaxed body canonicalization (all but the trailing lines).

    Each step looks at one line only, so running it over a few whole lines gives the same
    bytes as running it over the whole body: what lets `BodyHash` do the static lines once.
    """
    if body.count(b"\n") != body.count(b"\r\n"):
        body = _BARE_LF.sub(b"\r\n", body)
    if b" \r\n" in body or b"\t" in body:
        body = strip_trailing_whitespace(body)
    if b"\t" in body:
        body = compress_whitespace(body)
    else:
        while b"  " in body:
            body = body.replace(b"  ", b" ")
    return body


def canonical_body(body: bytes) -> bytes:
    """dkimpy's relaxed body canonicalization, skipping the passes a message does not need.

    Quoted-printable bodies have no trailing whitespace and few double spaces, so the
    whole-body regexes (1-2 ms each on 60 KB) usually have nothing to do; `in` and
    `replace` find that out in microseconds. The result is byte-identical to
    `Relaxed.canonicalize_body` (tests/send/test_dkim.py compares them).
    """
    return correct_empty_body(strip_trailing_lines(_canonical_lines(body)))


def body_hash(body: bytes) -> bytes:
    """The `bh=` value (base64 SHA-256 of the relaxed canonical body)."""
    return base64.b64encode(hashlib.sha256(canonical_body(body)).digest())


Region = list[bytes | int]  # whole lines: static bytes and slot numbers, joined per message


class Joiner:
    """Static bytes and slot numbers, joined per message with one `bytes.join` and no
    per-part type checks: the shape is worked out once."""

    __slots__ = ("_pattern", "_slots")

    def __init__(self, parts: Region) -> None:
        statics = [b""]
        self._slots: list[int] = []
        for part in parts:
            if isinstance(part, int):
                self._slots.append(part)
                statics.append(b"")
            else:
                statics[-1] += part
        self._pattern: list[bytes] = [b""] * (2 * len(self._slots) + 1)
        self._pattern[0::2] = statics

    def join(self, values: list[bytes]) -> bytes:
        out = self._pattern.copy()
        out[1::2] = [values[i] for i in self._slots]
        return b"".join(out)


def _blank(piece: bytes) -> bool:
    """Only empty lines (CRLF pairs): what trailing-line stripping may remove."""
    return piece.count(b"\r\n") * 2 == len(piece)


class BodyHash:
    """The `bh=` of a compiled template's body, with everything static canonicalised once.

    `parts` is the body as static bytes and slot numbers (indexes into the values given
    to `digest`). Relaxed canonicalization works line by line, so every line made only
    of static bytes is canonicalised here, once per template; the leading static lines
    are hashed here too, and `digest` starts from a copy of that hash state. Per message
    only the few lines that hold a slot are canonicalised, then the pieces are hashed as
    they are, the body never joined into one copy (90 KB, twice, per message).
    """

    def __init__(self, parts: list[bytes | int]) -> None:
        segments: list[bytes | Region] = []
        pending: Region = []
        for part in parts:
            if not isinstance(part, bytes) or (first := part.find(b"\r\n")) < 0:
                pending.append(part)
                continue
            last = part.rfind(b"\r\n")
            segments.append([*pending, part[:first + 2]])
            segments.append(part[first + 2:last + 2])
            pending = [part[last + 2:]] if part[last + 2:] else []
        segments.append(pending)
        merged: list[bytes | Region] = []
        for segment in segments:
            if isinstance(segment, list) and not any(isinstance(p, int) for p in segment):
                segment = b"".join(segment)  # type: ignore[arg-type]
            if isinstance(segment, bytes):
                segment = _canonical_lines(segment)
                if not segment:
                    continue
                if merged and isinstance(merged[-1], bytes):
                    merged[-1] += segment
                    continue
            elif not segment:
                continue
            merged.append(segment)
        head = merged[0] if merged else b""
        self._prefix: bytes = head if isinstance(head, bytes) else b""
        if merged and isinstance(head, bytes):
            merged.pop(0)
        # each segment as (static bytes, None) or (b"", its joiner); trailing static blank lines
        # (known now) are left out: they and the last kept piece's own become one line end
        self._rest: list[tuple[bytes, Joiner | None]] = [
            (seg, None) if isinstance(seg, bytes) else (b"", Joiner(seg)) for seg in merged]
        while self._rest and self._rest[-1][1] is None and _blank(self._rest[-1][0]):
            self._rest.pop()
        self._state = hashlib.sha256(self._prefix)
        self._fixed = None if merged else body_hash(self._prefix)

    def digest(self, values: list[bytes]) -> bytes:
        """The `bh=` value for the body with these slot values."""
        if self._fixed is not None:
            return self._fixed
        if not self._prefix or not self._rest:  # a body that starts with a slot, or ends in blank lines: rare
            return self._whole(values)
        hasher = self._state.copy()
        update = hasher.update
        for static, joiner in self._rest[:-1]:
            update(static if joiner is None else _canonical_lines(joiner.join(values)))
        static, joiner = self._rest[-1]
        last = static if joiner is None else _canonical_lines(joiner.join(values))
        if joiner is not None and _blank(last):  # the last slot line is empty: trailing lines reach back
            return self._whole(values)
        end = len(last)  # its trailing empty lines become one line end
        while last.endswith(b"\r\n", 0, end):
            end -= 2
        update(memoryview(last)[:end])
        update(b"\r\n")
        return base64.b64encode(hasher.digest())

    def _whole(self, values: list[bytes]) -> bytes:
        """The slow way: every piece joined, then canonicalised as dkimpy does the whole body."""
        return body_hash(self._prefix + b"".join(static if joiner is None else joiner.join(values)
                                                 for static, joiner in self._rest))


class HeaderHash:
    """The canonical header lines a signature covers, for a header block with slots.

    `parts` is the header block (no final blank line) as static bytes and slot numbers.
    Fields without a slot are canonicalised here; which fields `signed` selects, and in
    what order, depends only on their names, so it is worked out here too. Per message
    only the fields that hold a slot (To, Date, Message-ID, List-Unsubscribe) are
    canonicalised. `usable` is False when the template itself is not a plain header
    block; `lines` returns None when a value would start a line of its own.
    (`relaxed_value` of a static field is the same bytes dkimpy hashes; with a slot, the
    field's name, colon and the slot can never fall in another field: a value never holds
    a line break that is not folding, checked per message.)
    """

    def __init__(self, parts: list[bytes | int]) -> None:
        marked = b"".join(p if isinstance(p, bytes) else b"\x00%d\x00" % p for p in parts)
        fields = parse_head(marked)
        self.usable = bool(fields) and not any(b"\x00" in name for name, _ in fields)
        names = [name.lower().rstrip() for name, _ in fields]
        self.signed = signed_names(Counter(names))  # the `h=` list: the same for every message
        self._slots = sorted({int(n) for n in _SLOT.findall(marked)})
        self._lines: list[bytes | tuple[bytes, Joiner | int]] = []  # in hashing order
        for index in select_headers(names, self.signed):
            name, value = fields[index]
            if b"\x00" not in value:
                self._lines.append(names[index] + b":" + relaxed_value(value))
                continue
            pieces = _SLOT.split(value)
            if len(pieces) == 3 and not pieces[0].strip() and pieces[2] == b"\r\n":  # " <slot>\r\n": the usual
                self._lines.append((names[index] + b":", int(pieces[1])))  # stripped the same either way
                continue
            self._lines.append((names[index] + b":", Joiner([int(p) if i % 2 else p for i, p in enumerate(pieces)])))

    def lines(self, values: list[bytes]) -> bytes | None:
        """The canonical `name:value` lines the signature covers, in hashing order, joined."""
        for slot in self._slots:
            value = values[slot]
            if (b"\r" in value or b"\n" in value) and _NEW_LINE.search(value):
                return None  # the value would be a header line of its own: the whole way
        out = []
        for line in self._lines:
            if isinstance(line, bytes):
                out.append(line)
                continue
            name, source = line
            out.append(name + relaxed_value(values[source] if isinstance(source, int) else source.join(values)))
        return b"".join(out)


class Shape:
    """A line with placeholder runs (\\x01 for one value, \\x02 for another), filled per message.

    dkimpy folds the DKIM-Signature at spaces, or mid-token when a token is too long, by
    length alone; its variable values are base64 (no spaces) of a fixed length, so the
    line folded once with placeholders of the same length has its breaks where every
    message's will be. `fill` puts each value's characters into its runs, in order.
    """

    def __init__(self, template: bytes) -> None:
        pieces = _RUN.split(template)
        self._pattern: list[bytes] = [b""] * len(pieces)
        self._pattern[0::2] = pieces[0::2]
        self._cuts: list[tuple[int, int, int]] = []  # (which value, from, to) for each run, in order
        used = {1: 0, 2: 0}
        for run in pieces[1::2]:
            which = run[0]
            self._cuts.append((which, used[which], used[which] + len(run)))
            used[which] += len(run)

    def fill(self, first: bytes, second: bytes = b"") -> bytes:
        out = self._pattern.copy()
        out[1::2] = [(first if which == 1 else second)[start:end] for which, start, end in self._cuts]
        return b"".join(out)


def parse_head(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, value) pairs as `dkim.rfc822_parse` gives them, for a CRLF-only header block."""
    if b"\n" in head.replace(b"\r\n", b""):
        return [(name, value) for name, value in dkim.rfc822_parse(head + b"\r\n\r\n")[0]]
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + line + b"\r\n")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            return [(name, value) for name, value in dkim.rfc822_parse(head + b"\r\n\r\n")[0]]
        headers.append((name, value + b"\r\n"))
    return headers


def select_headers(names: list[bytes], signed: tuple[bytes, ...]) -> list[int]:
    """dkimpy's `select_headers` over canonical (lower-case) names: indexes, the last instance first."""
    chosen = []
    last: dict[bytes, int] = {}
    for wanted in signed:
        i = last.get(wanted, len(names))
        while i > 0:
            i -= 1
            if names[i] == wanted:
                chosen.append(i)
                break
        last[wanted] = i
    return chosen


def split_raw(message: bytes) -> tuple[bytes, bytes]:
    """The header block and the raw body, split where dkimpy splits them."""
    match = _HEADER_END.search(message)
    if match is None:
        return message, b""
    return message[:match.start()], message[match.end():]
