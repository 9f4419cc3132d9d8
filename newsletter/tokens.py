"""Per-recipient unsubscribe tokens: HMAC-SHA256 over the list and the address.

A token carries the address (base64url) and a MAC, so the unsubscribe server needs no
database lookup to know who clicked, and a forged, truncated or other-list token fails
the constant-time comparison. Parsing is strict (one canonical spelling per token), so
a token with characters added or removed is refused too.

Rotation: the current secret signs; old secrets (comma-separated in
`NEWSLETTER_TOKEN_SECRET_OLD`) still verify until `tokens.old_secrets_until`, then
tokens made with them are refused like any other bad token, without a hint why.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.errors import ConfigError

if TYPE_CHECKING:
    from newsletter.config.loader import Config

__all__ = [
    "SAMPLE_SECRET",
    "SECRET_FILE",
    "describe_secrets",
    "is_token_shaped",
    "load_secrets",
    "make_token",
    "read_token",
    "token_keys",
]

SAMPLE_SECRET = b"sample-only-not-a-secret"
SECRET_FILE = ".newsletter-secret"  # beside the config, for the embedded-outbox default
_MAC_BYTES = 16
_MAC_CHARS = 22  # base64url of 16 bytes, unpadded
_TOKEN_RE = re.compile(r"^([A-Za-z0-9_-]{2,600})\.([A-Za-z0-9_-]{22})$")


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


def is_token_shaped(text: str) -> bool:
    """Spelled like a token (`check` uses it to find the personal links in a built message)."""
    return bool(_TOKEN_RE.match(text))


def _parse(token: str) -> tuple[str, bytes] | None:
    """(address, mac) if the token is spelled exactly as `make_token` spells it."""
    match = _TOKEN_RE.match(token)
    if not match:
        return None
    address_part, mac_part = match.groups()
    try:
        raw = _unb64(address_part)
        email = raw.decode("utf-8")
        given = _unb64(mac_part)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if _b64(raw) != address_part or _b64(given) != mac_part or email != email.strip().lower():
        return None  # non-canonical spelling: trailing bits set, or not as make_token wrote it
    return email, given


def read_token(token: str, list_id: str, keys: list[bytes]) -> str | None:
    """The address a token was made for, if any of `keys` made it for this list; else None.

    Every key is tried (no early exit), so the time taken does not say which one matched.
    """
    parsed = _parse(token) if isinstance(token, str) else None
    if parsed is None or not keys:
        return None
    email, given = parsed
    valid = False
    for key in keys:
        valid |= hmac.compare_digest(given, _mac(key, list_id, email))
    return email if valid and len(given) == _MAC_BYTES and "@" in email else None


def load_secrets(env_name: str, secret_file: Path | None, *, old_env: str | None = None,
                 old_until: dt.date | None = None, create_in: Path | None = None,
                 create: bool = True, today: dt.date | None = None) -> list[bytes]:
    """The current secret first, then old ones still inside their grace period.

    From the environment variable, else the secret file, else the file `create_in`
    (the embedded-outbox default), which is written with a random secret when missing
    and `create` is true. The unsubscribe server passes `create=False`: a fresh random
    secret there would silently invalidate every link already sent.
    Old secrets come from `old_env` and are dropped once `today` is past `old_until`.
    """
    keys = [_current_secret(env_name, secret_file, create_in, create)]
    in_grace = old_until is None or (today or dt.date.today()) <= old_until
    if old_env and os.environ.get(old_env) and in_grace:
        keys.extend(s.strip().encode() for s in os.environ[old_env].split(",") if s.strip())
    return keys


def _current_secret(env_name: str, secret_file: Path | None, create_in: Path | None, create: bool) -> bytes:
    value = os.environ.get(env_name, "").strip()
    if value:
        return value.encode()
    if secret_file is not None:
        return _read_secret(secret_file)
    if create_in is not None and (create_in.exists() or create):
        if not create_in.exists():
            _write_new_secret(create_in)
        return _read_secret(create_in)
    raise ConfigError(
        f"no token secret: set the environment variable {env_name}",
        hint="the same secret `send` signed the unsubscribe links with; "
             "or set tokens.secret_file in the config",
    )


def _read_secret(path: Path) -> bytes:
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token secret: {exc.strerror}", path=path,
                          hint="check tokens.secret_file in the config") from exc
    if not value:
        raise ConfigError("the token secret file is empty", path=path,
                          hint="put a long random string in it, e.g. `openssl rand -base64 32`")
    return value


def _write_new_secret(path: Path) -> None:
    """Create the secret file (owner-only) atomically, never replacing an existing one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(32))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another process created it first: read theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def token_keys(config: Config, *, create: bool = True, today: dt.date | None = None) -> list[bytes]:
    """The keys for `config`: what `send` signs with (first) and the server accepts (all)."""
    return load_secrets(
        config.secret_env,
        config.secret_file,
        old_env=config.old_secrets_env,
        old_until=config.old_secrets_until,
        create_in=config.root / SECRET_FILE,
        create=create,
        today=today,
    )


def describe_secrets(config: Config, *, today: dt.date | None = None) -> str:
    """Where the token secrets come from, for a start-up line; never the secrets themselves."""
    if os.environ.get(config.secret_env, "").strip():
        where = f"${config.secret_env}"
    elif config.secret_file is not None:
        where = str(config.secret_file)
    else:
        where = str(config.root / SECRET_FILE)
    old_env = config.old_secrets_env
    old = [s for s in os.environ.get(old_env, "").split(",") if s.strip()] if old_env else []
    if not old:
        return where
    until = config.old_secrets_until
    if until is not None and (today or dt.date.today()) > until:
        return f"{where}; old secrets in ${old_env} expired on {until.isoformat()}"
    return f"{where} + {len(old)} old in ${old_env}" + (f" until {until.isoformat()}" if until else " (no end date)")
