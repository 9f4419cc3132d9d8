"""DKIM signing of outgoing messages, with the private key loaded once per run.

`load_signer(config)` reads and parses the key when `send` starts (so a missing or broken
key stops the run before the first message, with a hint) and returns a `DkimSigner`:
relaxed/relaxed, rsa-sha256, over the headers receivers and one-click unsubscribe
(RFC 8058) care about, each oversigned (listed once more than present), so no copy of
one can be added in transit without breaking the signature. The key never appears in an error or a log.

Signing is cut in two so a run can keep its event loop on the connections:
- the cheap half runs in the loop: the body and header hashes, with everything a
  template's messages share canonicalised once (send/dkimhash.py);
- the RSA step (`sign_digest`, about 0.3 ms with a 2048-bit key) runs in worker processes
  (send/signpool.py). Test sends and dry runs call the signer whole, in process.
Either way the DKIM-Signature is byte for byte what dkimpy's `dkim.sign` makes (same tags,
same folding; tests/send/test_dkim_pool.py compares them) and verifies with `dkim.verify`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import Relaxed, compress_whitespace

from newsletter.config import Config, DkimConfig
from newsletter.errors import ConfigError, NewsletterError
from newsletter.files import atomic_write
from newsletter.send.dkimhash import (
    OPTIONAL_SIGNED_HEADERS,
    SIGNED_HEADERS,
    HeaderHash,
    Shape,
    body_hash,
    parse_head,
    select_headers,
    signed_names,
    split_raw,
)
from newsletter.send.signworker import sign_digest

__all__ = ["Signer", "SIGNED_HEADERS", "OPTIONAL_SIGNED_HEADERS", "DkimSigner", "Unsigned", "generate_key",
           "load_private_key", "load_signer", "make_signer", "public_key_record", "record_name",
           "write_private_key", "zone_strings"]

Signer = Callable[[bytes], bytes]

_SIG_NAME = b"DKIM-Signature"
_B_PLACEHOLDER = b"0" * 60  # dkimpy signs with this in b= so the folding does not move later
_BH_SIZE = 44  # base64 of a SHA-256 digest


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


class Unsigned(NamedTuple):
    """What a message's signature needs but the RSA step: the digest `b=` signs, the body
    hash, and the DKIM-Signature line with both left to fill in (`DkimSigner.header`)."""

    digest: bytes
    bh: bytes
    line: Shape


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
        self._shape_memo: dict[tuple[bytes, tuple[bytes, ...]], tuple[Shape, Shape]] = {}
        self._last_shapes: tuple[int, tuple[bytes, ...], tuple[Shape, Shape]] | None = None
        self._b_size = 4 * -(-((key.key_size + 7) // 8) // 3)  # base64 of one signature

    @property
    def pem(self) -> bytes:
        """The key as PEM, for the worker processes (never written anywhere)."""
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def unsigned(self, head: bytes, bh: bytes) -> Unsigned:
        """The signature's digest for this header block and body hash (a whole message's way)."""
        headers = self._canonical_headers(head)
        names = [name for name, _ in headers]
        signed = signed_names(Counter(names))
        lines = b"".join(headers[i][0] + b":" + headers[i][1] for i in select_headers(names, signed))
        return self._unsigned(lines, signed, bh)

    def unsigned_from(self, headers: HeaderHash, values: list[bytes], bh: bytes) -> Unsigned | None:
        """The same for a template's header block and a message's slot values (a run's way);
        None when a value does not fit the template (then the message is signed whole)."""
        lines = headers.lines(values)
        return None if lines is None else self._unsigned(lines, headers.signed, bh)

    def _unsigned(self, lines: bytes, signed: tuple[bytes, ...], bh: bytes) -> Unsigned:
        hashed, line = self._shapes(signed)
        return Unsigned(hashlib.sha256(lines + hashed.fill(bh)).digest(), bh, line)

    def _shapes(self, signed: tuple[bytes, ...]) -> tuple[Shape, Shape]:
        """The DKIM-Signature as hashed (no `b=`) and as sent, folded once per second and header set.

        dkimpy's order: b= folded onto its own line with a placeholder, then emptied, and
        the line relaxed-canonical is the last thing hashed.
        """
        second = int(self.clock())
        last = self._last_shapes
        if last is not None and last[0] == second and last[1] is signed:  # the same second and template
            return last[2]
        t = str(second).encode("ascii")
        found = self._shape_memo.get((t, signed))
        if found is not None:
            self._last_shapes = (second, signed, found)
            return found
        fields = ((b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), (b"d", self.domain),
                  (b"i", b"@" + self.domain), (b"q", b"dns/txt"), (b"s", self.selector), (b"t", t),
                  (b"h", b" : ".join(signed)), (b"bh", b"\x01" * _BH_SIZE), (b"b", _B_PLACEHOLDER))
        folded = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_SIG_NAME), linesep=b"\r\n")
        folded = dkim.RE_BTAG.sub(b"\\1", folded)
        hashed = b"dkim-signature:" + compress_whitespace(folded.replace(b"\r\n", b"")).strip()
        sent = fields[:-1] + ((b"b", b"\x02" * self._b_size),)
        value = dkim.fold(b"; ".join(b"=".join(f) for f in sent) + b"\r\n", namelen=len(_SIG_NAME),
                          linesep=b"\r\n")
        if len(self._shape_memo) > 16:
            self._shape_memo.clear()
        found = self._shape_memo[(t, signed)] = (Shape(hashed), Shape(_SIG_NAME + b": " + value))
        self._last_shapes = (second, signed, found)
        return found

    def _canonical_headers(self, head: bytes) -> list[tuple[bytes, bytes]]:
        """The header block as dkimpy parses it, relaxed-canonical; static lines are remembered."""
        out = []
        for name, value in parse_head(head):
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
        return unsigned.line.fill(unsigned.bh, base64.b64encode(signature))

    def __call__(self, message: bytes) -> bytes:
        head, body = split_raw(message)
        unsigned = self.unsigned(head, body_hash(body))
        return self.header(unsigned, sign_digest(self.key, unsigned.digest)) + message


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
