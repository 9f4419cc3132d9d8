"""Per-recipient unsubscribe tokens: HMAC-SHA256 over the list and the address.

A token carries the address (base64url) and a MAC, so the unsubscribe server needs no
database lookup to know who clicked, and a forged or other-list token fails the
constant-time comparison.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .errors import ConfigError

__all__ = ["make_token", "read_token", "load_secrets", "SAMPLE_SECRET"]

SAMPLE_SECRET = b"sample-only-not-a-secret"
_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, list_id: str, email: str) -> bytes:
    message = f"{list_id}\n{email.strip().lower()}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(secret: bytes, list_id: str, email: str) -> str:
    """`<address>.<mac>`, both base64url, safe in a URL query without further quoting."""
    return f"{_b64(email.strip().lower().encode())}.{_b64(_mac(secret, list_id, email))}"


def read_token(token: str, list_id: str, keys: list[bytes]) -> str | None:
    """The address a token was made for, if any of `keys` made it for this list; else None."""
    try:
        address_part, mac_part = token.split(".", 1)
        email = _unb64(address_part).decode("utf-8")
        given = _unb64(mac_part)
    except (ValueError, UnicodeDecodeError):
        return None
    valid = False
    for key in keys:
        valid |= hmac.compare_digest(given, _mac(key, list_id, email))
    return email if valid and len(given) == _MAC_BYTES else None


def load_secrets(env_name: str, secret_file: Path | None, *, old_env: str | None = None,
                 create_in: Path | None = None) -> list[bytes]:
    """The current secret first, then still-valid old ones (rotation grace period).

    From the environment variable, else the secret file. With neither, a random secret is
    written to `create_in` (the embedded-outbox default) so the first run just works.
    """
    keys: list[bytes] = []
    value = os.environ.get(env_name)
    if value:
        keys.append(value.encode())
    elif secret_file is not None:
        try:
            keys.append(secret_file.read_bytes().strip())
        except OSError as exc:
            raise ConfigError(f"cannot read the token secret: {exc.strerror}", path=secret_file) from exc
    elif create_in is not None:
        if not create_in.exists():
            create_in.write_text(secrets.token_urlsafe(32))
            create_in.chmod(0o600)
        keys.append(create_in.read_bytes().strip())
    else:
        raise ConfigError(
            f"no token secret: set the environment variable {env_name}",
            hint="or set tokens.secret_file in the config; unsubscribe links are signed with it",
        )
    if old_env and os.environ.get(old_env):
        keys.extend(s.encode() for s in os.environ[old_env].split(",") if s)
    return keys
