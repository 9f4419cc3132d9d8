"""DKIM signing of outgoing messages, with the private key loaded once per run.

`load_signer(config)` reads and parses the key when `send` starts (so a missing or broken
key stops the run before the first message, with a hint) and returns a `DkimSigner`:
relaxed/relaxed, rsa-sha256, over the headers receivers and one-click unsubscribe
(RFC 8058) care about, each oversigned (listed once more than present), so no copy of
one can be added in transit without breaking the signature. The key never appears in an error or a log.

Signing is cut in two so a run can keep its event loop on the connections:
- the cheap half runs in the loop. Relaxed body canonicalization works line by line, so
  `BodyHash` canonicalises a compiled template's static lines once and starts each
  message from a copy of the hash state of its leading lines; per message only the lines
  holding a slot are canonicalised. The header hash remembers the canonical form of the
  header lines every message shares.
- the RSA step (`sign_digest`, about 1 ms with a 2048-bit key) runs in worker processes
  (send/signpool.py). Test sends and dry runs call the signer whole, in process.
Either way the DKIM-Signature is byte for byte what dkimpy's `dkim.sign` makes (same tags,
same folding; tests/test_dkim_pool.py compares them) and verifies with `dkim.verify`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim.canonicalization import (
    CanonicalizationPolicy,
    Relaxed,
    compress_whitespace,
    correct_empty_body,
    strip_trailing_lines,
    strip_trailing_whitespace,
)

from newsletter.config import Config, DkimConfig
from newsletter.errors import ConfigError, NewsletterError
from newsletter.files import atomic_write

__all__ = ["Signer", "SIGNED_HEADERS", "OPTIONAL_SIGNED_HEADERS", "BodyHash", "DkimSigner", "Unsigned",
           "body_hash", "canonical_body", "generate_key", "load_private_key", "load_signer", "make_signer",
           "public_key_record", "record_name", "sign_digest", "write_private_key", "zone_strings"]

Signer = Callable[[bytes], bytes]

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
_SIG_NAME = b"DKIM-Signature"
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")  # printable, no colon (RFC 5322 ftext)
_B_PLACEHOLDER = b"0" * 60  # dkimpy signs with this in b= so the folding does not move later
_POLICY = CanonicalizationPolicy(Relaxed, Relaxed)


def load_private_key(settings: DkimConfig, *, config_path: Path | None = None) -> rsa.RSAPrivateKey:
    """The RSA key from `key_file` or the env var `key_env`, parsed once."""
    source, pem = _read_key(settings, config_path)
    if b"\\n" in pem and pem.strip().count(b"\n") == 0:  # a PEM squeezed into one env line
        pem = pem.replace(b"\\n", b"\n")
    try:
        key = serialization.load_pem_private_key(pem.strip() + b"\n", password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{source} is not an unencrypted PEM private key", path=config_path,
                          field="dkim", hint="create one with `newsletter dkim keygen --selector S "
                          "--domain D`") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise ConfigError(f"{source} is not an RSA key of 1024 bits or more", path=config_path,
                          field="dkim", hint="use a 2048-bit RSA key (`newsletter dkim keygen`)")
    return key


def _read_key(settings: DkimConfig, config_path: Path | None) -> tuple[str, bytes]:
    if settings.key_file is not None:
        try:
            return f"the DKIM key file {settings.key_file}", settings.key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the DKIM key file {settings.key_file}: {exc.strerror}",
                              path=config_path, field="dkim.key_file",
                              hint="check dkim.key_file, or create a key with `newsletter dkim keygen`") from exc
    name = settings.key_env or ""
    value = os.environ.get(name, "") if name else ""
    if not value.strip():
        raise ConfigError(f"the DKIM key variable {name or '(none)'} is not set", path=config_path,
                          field="dkim.key_env",
                          hint=f'export {name or "NAME"}="$(cat dkim.key)" or set dkim.key_file: PATH')
    return f"the variable {name}", value.encode("ascii", "replace")


def public_key_record(key: rsa.RSAPrivateKey) -> str:
    """The DNS TXT value publishing `key`'s public half: `v=DKIM1; k=rsa; p=...`."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def record_name(selector: str, domain: str) -> str:
    """Where receivers look the key up: `SELECTOR._domainkey.DOMAIN`."""
    return f"{selector}._domainkey.{domain.rstrip('.')}"


def zone_strings(value: str, size: int = 255) -> str:
    """The TXT value as quoted strings of at most 255 characters, as zone files need."""
    return " ".join(f'"{value[i:i + size]}"' for i in range(0, len(value), size))


def generate_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def write_private_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    """Write the PEM key readable by its owner only (0600); never overwrite a key."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    try:
        atomic_write(path, pem, mode=0o600, exclusive=True)
    except FileExistsError:
        raise NewsletterError("a key file is already there", path=path,
                              hint="choose another --out, or move the old key aside first") from None
    except OSError as exc:
        raise NewsletterError(f"cannot write the key: {exc.strerror}", path=path) from exc


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
    `Relaxed.canonicalize_body` (tests/test_dkim.py compares them).
    """
    return correct_empty_body(strip_trailing_lines(_canonical_lines(body)))


def body_hash(body: bytes) -> bytes:
    """The `bh=` value (base64 SHA-256 of the relaxed canonical body)."""
    return base64.b64encode(hashlib.sha256(canonical_body(body)).digest())


Region = list[bytes | int]  # whole lines: static bytes and slot numbers, joined per message


class BodyHash:
    """The `bh=` of a compiled template's body, with everything static canonicalised once.

    `parts` is the body as static bytes and slot numbers (indexes into the values given
    to `digest`). Relaxed canonicalization works line by line, so every line made only
    of static bytes is canonicalised here, once per template; the leading static lines
    are hashed here too, and `digest` starts from a copy of that hash state. Per message
    only the few lines that hold a slot are canonicalised, then the rest is hashed.
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
        self._rest = merged
        self._state = hashlib.sha256(self._prefix)
        self._fixed = None if merged else body_hash(self._prefix)

    def digest(self, values: list[bytes]) -> bytes:
        """The `bh=` value for the body with these slot values."""
        if self._fixed is not None:
            return self._fixed
        pieces = [seg if isinstance(seg, bytes) else
                  _canonical_lines(b"".join(values[p] if isinstance(p, int) else p for p in seg))
                  for seg in self._rest]
        rest = b"".join(pieces)
        if self._prefix and not rest.strip(b"\r\n"):  # only blank lines after the prefix: rare
            return base64.b64encode(hashlib.sha256(
                correct_empty_body(strip_trailing_lines(self._prefix + rest))).digest())
        rest = strip_trailing_lines(rest)
        hasher = self._state.copy()
        hasher.update(rest if self._prefix else correct_empty_body(rest))
        return base64.b64encode(hasher.digest())


@dataclass(frozen=True)
class Unsigned:
    """A DKIM-Signature with everything but `b=`, and the digest that `b=` signs."""

    fields: tuple[tuple[bytes, bytes], ...]
    digest: bytes


def sign_digest(key: rsa.RSAPrivateKey, digest: bytes) -> bytes:
    """RSASSA-PKCS1-v1_5 over a SHA-256 digest: the one step that needs the key."""
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


class DkimSigner:
    """Signs for one domain and selector: whole messages, or in two halves around the RSA step.

    `signer(message)` signs a complete message in this process (test sends, dry runs).
    A run splits it: `unsigned(head, bh)` hashes the headers here, the digest goes to a
    worker process for `sign_digest` (send/signpool.py), and `header(unsigned, b)` makes
    the DKIM-Signature line. Both ways give the same bytes as dkimpy's `dkim.sign`.
    """

    def __init__(self, key: rsa.RSAPrivateKey, *, domain: str, selector: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.domain = domain.encode("idna")
        self.selector = selector.encode("ascii")
        self.clock = clock
        self._memo: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}

    @property
    def pem(self) -> bytes:
        """The key as PEM, for the worker processes (never written anywhere)."""
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def unsigned(self, head: bytes, bh: bytes) -> Unsigned:
        """The signature's fields for this header block and body hash, and the digest to sign."""
        headers = self._canonical_headers(head)
        present = Counter(name for name, _ in headers)
        names = SIGNED_HEADERS + tuple(h for h in OPTIONAL_SIGNED_HEADERS if h in present)
        signed = tuple(name for name in names for _ in range(present[name] + 1))  # oversigned
        fields = ((b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), (b"d", self.domain),
                  (b"i", b"@" + self.domain), (b"q", b"dns/txt"), (b"s", self.selector),
                  (b"t", str(int(self.clock())).encode("ascii")), (b"h", b" : ".join(signed)), (b"bh", bh),
                  (b"b", _B_PLACEHOLDER))
        folded = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_SIG_NAME), linesep=b"\r\n")
        folded = dkim.RE_BTAG.sub(b"\\1", folded)  # as dkimpy: b= folded onto its own line, then emptied
        hasher = hashlib.sha256()
        for name, value in _select(headers, signed):  # what dkimpy's hash_headers hashes, in its order
            hasher.update(name + b":" + value)
        hasher.update(b"dkim-signature:" + compress_whitespace(folded.replace(b"\r\n", b"")).strip())
        return Unsigned(fields, hasher.digest())

    def _canonical_headers(self, head: bytes) -> list[tuple[bytes, bytes]]:
        """The header block as dkimpy parses it, relaxed-canonical; static lines are remembered.

        Most header lines are the same in every message of a run (From, Subject, List-Id,
        the MIME headers), so their canonical form is looked up, not recomputed.
        """
        out = []
        for name, value in _parse_head(head):
            canonical = self._memo.get((name, value))
            if canonical is None:
                if len(self._memo) > 4096:
                    self._memo.clear()
                canonical = self._memo[(name, value)] = Relaxed.canonicalize_headers([(name, value)])[0]
            out.append(canonical)
        return out

    @staticmethod
    def header(unsigned: Unsigned, signature: bytes) -> bytes:
        """The DKIM-Signature header line(s), CRLF-terminated, to go before the message."""
        fields = unsigned.fields[:-1] + ((b"b", base64.b64encode(signature)),)
        value = dkim.fold(b"; ".join(b"=".join(f) for f in fields) + b"\r\n", namelen=len(_SIG_NAME),
                          linesep=b"\r\n")
        return _SIG_NAME + b": " + value

    def __call__(self, message: bytes) -> bytes:
        head, body = _split_raw(message)
        unsigned = self.unsigned(head, body_hash(body))
        return self.header(unsigned, sign_digest(self.key, unsigned.digest)) + message


def _parse_head(head: bytes) -> list[tuple[bytes, bytes]]:
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


def _select(headers: list[tuple[bytes, bytes]], signed: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    """dkimpy's `select_headers` over canonical (lower-case) names: the last instance first."""
    chosen = []
    last: dict[bytes, int] = {}
    for wanted in signed:
        i = last.get(wanted, len(headers))
        while i > 0:
            i -= 1
            if headers[i][0] == wanted:
                chosen.append(headers[i])
                break
        last[wanted] = i
    return chosen


def _split_raw(message: bytes) -> tuple[bytes, bytes]:
    """The header block and the raw body, split where dkimpy splits them."""
    match = _HEADER_END.search(message)
    if match is None:
        return message, b""
    return message[:match.start()], message[match.end():]


def make_signer(key: rsa.RSAPrivateKey, *, domain: str, selector: str,
                clock: Callable[[], float] = time.time) -> DkimSigner:
    """A function that prepends a DKIM-Signature to a complete message."""
    return DkimSigner(key, domain=domain, selector=selector, clock=clock)


def load_signer(config: Config) -> DkimSigner | None:
    """The signer for this newsletter, or None when DKIM is not configured."""
    settings = config.dkim
    if settings is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", settings.selector):
        raise ConfigError(f"not a DKIM selector: {settings.selector!r}", path=config.path, field="dkim.selector",
                          hint="use letters, digits, hyphens and dots, as in the DNS name")
    try:
        settings.domain.encode("idna")
    except UnicodeError:
        raise ConfigError(f"not a domain name: {settings.domain!r}", path=config.path, field="dkim.domain",
                          hint="e.g. example.org") from None
    key = load_private_key(settings, config_path=config.path)
    return make_signer(key, domain=settings.domain, selector=settings.selector)
