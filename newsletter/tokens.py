"""Per-recipient unsubscribe tokens: HMAC-SHA256 over the list and the address.

A token carries the address (base64url) and a MAC, so the unsubscribe server needs no
database lookup to know who clicked, and a forged, truncated or other-list token fails
the constant-time comparison. Parsing is strict (one canonical spelling per token), so
a token with characters added or removed is refused too.

Sign-up links (`make_link_token`) carry an address, a nonce and an expiry time under a
MAC of their own purpose, so an unsubscribe token can never pass as one and back; form
stamps (`make_stamp`) sign the time a sign-up page was shown; `client_key` keys a client's
network address so a rate limit can count it without storing it; `erasure_key` keys an
erased address so the suppression list can match it without holding it. A counted link
(`make_click_link`) carries an item's URL and a short MAC over the list, the issue and
that URL: the same for every reader, and the site's `/r/` route redirects only to what
was signed, so it is never an open redirect.

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

from newsletter.addresses import address_key
from newsletter.errors import ConfigError
from newsletter.files import atomic_write

if TYPE_CHECKING:
    from newsletter.config import Config

__all__ = [
    "PROBE_ADDRESS",
    "PROBE_HEADER",
    "SAMPLE_SECRET",
    "SECRET_FILE",
    "create_secret_file",
    "describe_secrets",
    "erasure_key",
    "is_token_shaped",
    "load_secrets",
    "CANARY",
    "client_key",
    "make_click_link",
    "read_click_link",
    "make_link_token",
    "make_stamp",
    "new_secret_file",
    "make_token",
    "read_link_token",
    "read_stamp",
    "read_token",
    "token_keys",
]

SAMPLE_SECRET = b"sample-only-not-a-secret"
# `newsletter doctor --online` signs a token for this address; the site answers it with
# PROBE_HEADER and unsubscribes nobody (.invalid can never be a subscriber's domain).
PROBE_ADDRESS = "doctor-probe@newsletter.invalid"
PROBE_HEADER = "X-Newsletter-Probe"
SECRET_FILE = ".newsletter-secret"  # beside the config, made by whichever command needs it first
_MAC_BYTES = 16
_MAC_CHARS = 22  # base64url of 16 bytes, unpadded
_TOKEN_RE = re.compile(r"\A([A-Za-z0-9_-]{2,600})\.([A-Za-z0-9_-]{22})\Z")  # \Z: "$" allows a final newline


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, list_id: str, email: str) -> bytes:
    message = f"{list_id}\n{address_key(email)}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(secret: bytes, list_id: str, email: str) -> str:
    """`<address>.<mac>`, both base64url, safe in a URL query without further quoting."""
    return f"{_b64(address_key(email).encode())}.{_b64(_mac(secret, list_id, email))}"


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
    if _b64(raw) != address_part or _b64(given) != mac_part or email != address_key(email):
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


def _purpose_mac(secret: bytes, purpose: str, list_id: str, payload: str) -> bytes:
    """A MAC over `purpose` too: a token made for one purpose never verifies for another
    (the unsubscribe MAC's message has no NUL byte, these all start with one)."""
    message = f"\0{purpose}\n{list_id}\n{payload}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def _verified(given: bytes, keys: list[bytes], purpose: str, list_id: str, payload: str) -> bool:
    valid = False
    for key in keys:  # every key, no early exit
        valid |= hmac.compare_digest(given, _purpose_mac(key, purpose, list_id, payload))
    return valid


def make_link_token(secret: bytes, list_id: str, email: str, nonce: str, expires: int) -> str:
    """A confirmation link's token: `<payload>.<mac>`, payload = address, nonce, expiry (Unix time)."""
    payload = f"{address_key(email)}\n{nonce}\n{expires}"
    return f"{_b64(payload.encode())}.{_b64(_purpose_mac(secret, 'confirm', list_id, payload))}"


def read_link_token(token: str, list_id: str, keys: list[bytes], *, now: float) -> tuple[str, str] | None:
    """(address, nonce) for a genuine link token that has not expired at `now`; else None,
    the same None for forged, garbled and expired tokens."""
    parsed = _parse_parts(token)
    if parsed is None:
        return None
    payload, given = parsed
    fields = payload.split("\n")
    if len(fields) != 3 or not fields[2].isdigit() or not _verified(given, keys, "confirm", list_id, payload):
        return None
    email, nonce, expires = fields
    return (email, nonce) if now <= int(expires) and "@" in email else None


def make_stamp(secret: bytes, list_id: str, shown: int) -> str:
    """The sign-up form's hidden stamp: when the page was shown (Unix time), signed."""
    return f"{shown}.{_b64(_purpose_mac(secret, 'form', list_id, str(shown)))}"


def read_stamp(stamp: str, list_id: str, keys: list[bytes]) -> int | None:
    """When the form was shown, if the stamp is genuine; else None."""
    shown, _, mac = stamp.partition(".") if isinstance(stamp, str) else ("", "", "")
    if not shown.isdigit() or len(shown) > 12 or len(mac) != _MAC_CHARS:
        return None
    try:
        given = _unb64(mac)
    except (ValueError, binascii.Error):
        return None
    if _b64(given) != mac or not _verified(given, keys, "form", list_id, shown):
        return None
    return int(shown)


def client_key(secret: bytes, client: str) -> str:
    """A client's network address as a keyed hash: countable for a rate limit, never readable."""
    return hmac.new(secret, f"\0client\n{client}".encode(), hashlib.sha256).hexdigest()[:32]


def erasure_key(secret: bytes, email: str) -> str:
    """An erased address as the suppression list keeps it: a keyed hash, matched against
    every address a send or an import meets, never readable back (`person forget`)."""
    digest = hmac.new(secret, f"\0erased\n{email.strip().lower()}".encode(), hashlib.sha256).hexdigest()
    return f"erased:{digest[:40]}"


CANARY = "canary"  # the hidden link's payload: no web address, so only a machine follows it
_CLICK_MAC_BYTES = 8  # 11 characters: forging one takes ~2**64 tries against the live site
_CLICK_RE = re.compile(r"\A([A-Za-z0-9_-]{2,2800})\.([A-Za-z0-9_-]{11})\Z")


def make_click_link(secret: bytes, list_id: str, slug: str, url: str) -> str:
    """The `<link>` part of `/r/<slug>/<link>`: the URL (base64url) and its MAC."""
    mac = _purpose_mac(secret, "click", list_id, f"{slug}\n{url}")[:_CLICK_MAC_BYTES]
    return f"{_b64(url.encode())}.{_b64(mac)}"


def read_click_link(link: str, slug: str, list_id: str, keys: list[bytes]) -> str | None:
    """The URL a counted link was signed for in issue `slug`, or None (forged, garbled, other issue)."""
    match = _CLICK_RE.match(link) if isinstance(link, str) else None
    if not match or not keys:
        return None
    try:
        raw, given = _unb64(match.group(1)), _unb64(match.group(2))
        url = raw.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if _b64(raw) != match.group(1) or _b64(given) != match.group(2):
        return None
    valid = False
    for key in keys:  # every key, no early exit
        expected = _purpose_mac(key, "click", list_id, f"{slug}\n{url}")[:_CLICK_MAC_BYTES]
        valid |= hmac.compare_digest(given, expected)
    return url if valid else None


def _parse_parts(token: str) -> tuple[str, bytes] | None:
    """(payload text, mac) of a `<payload>.<mac>` token spelled canonically; else None."""
    match = _TOKEN_RE.match(token) if isinstance(token, str) else None
    if not match:
        return None
    try:
        raw, given = _unb64(match.group(1)), _unb64(match.group(2))
        payload = raw.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if _b64(raw) != match.group(1) or _b64(given) != match.group(2):
        return None
    return payload, given


def load_secrets(env_name: str, secret_file: Path | None, *, old_env: str | None = None,
                 old_until: dt.date | None = None, create_in: Path | None = None,
                 today: dt.date | None = None, create: bool = True) -> list[bytes]:
    """The current secret first, then old ones still inside their grace period.

    From the environment variable, else the secret file, else the file `create_in`
    (`.newsletter-secret` beside the config), written with a random secret when missing
    and `create` (only `init` and `send` make it; the subscriber site reads it and never
    makes one: a new secret would refuse every link already mailed). Nobody has to make a
    secret by hand.
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
    if create_in is not None and create:
        create_secret_file(create_in)
        return _read_secret(create_in)
    if create_in is not None and create_in.exists():
        return _read_secret(create_in)
    if create_in is not None:
        raise ConfigError(
            f"no token secret: neither ${env_name} nor {create_in} (the subscriber site never makes one)",
            hint=f"copy the .newsletter-secret that `send` made, or set ${env_name} to the secret the "
                 "links were signed with",
        )
    raise ConfigError(
        f"no token secret: set the environment variable {env_name}",
        hint="the same secret `send` signed the unsubscribe links with; "
             "or set tokens.secret_file in the config",
    )


def _read_secret(path: Path) -> bytes:
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token secret: {exc.strerror}", path=path, field="tokens.secret_file",
                          hint="point tokens.secret_file at the file `send` signed with, or remove the "
                               "setting and a .newsletter-secret beside the config is made for you") from exc
    if not value:
        raise ConfigError("the token secret file is empty", path=path,
                          hint="put a long random string in it, e.g. `openssl rand -base64 32`")
    return value


def create_secret_file(path: Path) -> bool:
    """Create the secret file (mode 0600) atomically, never replacing an existing one.

    True when this call made it. Replacing a secret would refuse every link already sent.
    """
    if path.exists():
        return False
    try:
        atomic_write(path, secrets.token_urlsafe(32), mode=0o600, exclusive=True)
    except FileExistsError:  # another process created it first: read theirs
        return False
    return True


def new_secret_file(config: Config) -> Path | None:
    """Make `.newsletter-secret` beside the config when no secret is set anywhere.

    The path when it was made just now (so a command can say so once), else None.
    """
    if os.environ.get(config.secret_env, "").strip() or config.secret_file is not None:
        return None
    path = config.root / SECRET_FILE
    return path if create_secret_file(path) else None


def token_keys(config: Config, *, today: dt.date | None = None) -> list[bytes]:
    """The keys for `config`: what `send` signs with (first) and the server accepts (all).
    Never makes a secret: that is for `init` and `send` (send/messages.py)."""
    return load_secrets(
        config.secret_env,
        config.secret_file,
        old_env=config.old_secrets_env,
        old_until=config.old_secrets_until,
        create_in=config.root / SECRET_FILE,
        today=today,
        create=False,
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
