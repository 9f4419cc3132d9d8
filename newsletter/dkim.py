"""DKIM signing of outgoing messages, with the private key loaded once per run.

`load_signer(config)` reads and parses the key when `send` starts (so a missing or broken
key stops the run before the first message, with a hint) and returns a function that
signs one complete message: relaxed/relaxed, rsa-sha256, over the headers receivers and
one-click unsubscribe (RFC 8058) care about. The key never appears in an error or a log.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from .config import Config, DkimConfig
from .errors import ConfigError

__all__ = ["Signer", "SIGNED_HEADERS", "OPTIONAL_SIGNED_HEADERS", "load_signer", "load_private_key",
           "make_signer"]

Signer = Callable[[bytes], bytes]

#: Always signed, present or not: signing an absent header stops anyone adding it later.
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
    b"list-unsubscribe", b"list-unsubscribe-post",
)
#: Signed too when the message has them (RFC 6376 recommends them).
OPTIONAL_SIGNED_HEADERS: tuple[bytes, ...] = (
    b"reply-to", b"mime-version", b"content-type", b"list-archive", b"archived-at",
)
_CANON = (b"relaxed", b"relaxed")


def load_private_key(settings: DkimConfig, *, config_path: Path | None = None) -> bytes:
    """The PEM key from `key_file` or the env var `key_env`, checked to parse as RSA."""
    source, pem = _read_key(settings, config_path)
    pem = pem.replace(b"\r\n", b"\n").strip() + b"\n"
    if b"\\n" in pem and pem.count(b"\n") <= 1:  # a PEM squeezed into one env line
        pem = pem.replace(b"\\n", b"\n")
    try:
        parse_pem_private_key(pem)
    except (UnparsableKeyError, ValueError, IndexError) as exc:
        raise ConfigError(f"{source} is not a PEM RSA private key", path=config_path, field="dkim",
                          hint="create one with `newsletter dkim keygen --selector S --domain D`") from exc
    return pem


def _read_key(settings: DkimConfig, config_path: Path | None) -> tuple[str, bytes]:
    if settings.key_file is not None:
        try:
            return f"DKIM key file {settings.key_file}", settings.key_file.read_bytes()
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


def make_signer(pem: bytes, *, domain: str, selector: str) -> Signer:
    """A function that prepends a DKIM-Signature to a complete message (CRLF line ends)."""
    domain_b = domain.encode("ascii")
    selector_b = selector.encode("ascii")

    def sign(message: bytes) -> bytes:
        signer = dkim.DKIM(message, linesep=b"\r\n")
        present = {name.lower() for name, _ in signer.headers}
        headers = list(SIGNED_HEADERS) + [h for h in OPTIONAL_SIGNED_HEADERS if h in present]
        signature = signer.sign(selector_b, domain_b, pem, canonicalize=_CANON,
                                include_headers=headers)
        return signature + message

    return sign


def load_signer(config: Config) -> Signer | None:
    """The signer for this newsletter, or None when DKIM is not configured."""
    settings = config.dkim
    if settings is None:
        return None
    pem = load_private_key(settings, config_path=config.path)
    return make_signer(pem, domain=settings.domain, selector=settings.selector)
