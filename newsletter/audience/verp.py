"""VERP return paths that cannot be forged: `digest+b12-kq3v7x2m4a5b6c7d@example.org`.

Bounces go to the envelope sender (MAIL FROM). With `bounces.verp` on, `send` gives each
message its own return path: the configured return address with `+b<run>-<token>` added
to the local part, the token an HMAC of the run and the recipient's address under the
token secret. A bounce delivered to such an address says which run and recipient it is
about even when it quotes nothing of the original; and because only the holder of the
secret can make a token, a bounce to an address we did not generate names nobody.

The token does not carry the address (a local part must stay under 64 characters and
some servers lower-case it): `bounces.py` finds the recipient by computing the token for
each address the run mailed (`tokens_for_run`). Base32 in lower case survives servers
that change the case of the local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from email.utils import parseaddr

from newsletter.addresses import address_key

__all__ = ["read_verp", "tokens_for_run", "verp_address", "verp_token"]

_TAG_RE = re.compile(r"^b(\d{1,12})-([a-z2-7]{16})$")
_TOKEN_BYTES = 10  # 80 bits: 16 base32 characters


def verp_token(key: bytes, run_id: int, email: str) -> str:
    """The 16-character token for one run and address (lower-case base32 of an HMAC)."""
    message = f"newsletter return path\n{run_id}\n{address_key(email)}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:_TOKEN_BYTES]
    return base64.b32encode(digest).decode("ascii").lower()


def verp_address(return_path: str, key: bytes, run_id: int, email: str) -> str:
    """`local+b<run>-<token>@domain`: the MAIL FROM for one recipient of one run."""
    local, _, domain = return_path.rpartition("@")
    return f"{local}+b{run_id}-{verp_token(key, run_id, email)}@{domain}"


def read_verp(address: str, return_path: str) -> tuple[int, str] | None:
    """(run id, token) if `address` is a VERP address made from `return_path`; else None.

    Says nothing yet about whether the token is genuine: `tokens_for_run` decides that.
    """
    local, _, domain = address_key(parseaddr(address)[1]).rpartition("@")
    base_local, _, base_domain = return_path.lower().rpartition("@")
    if domain != base_domain or not local.startswith(base_local + "+"):
        return None
    match = _TAG_RE.match(local[len(base_local) + 1:])
    return (int(match.group(1)), match.group(2)) if match else None


def tokens_for_run(keys: Iterable[bytes], run_id: int, emails: Iterable[str]) -> dict[str, str]:
    """token -> address for every address of a run, under every key still accepted."""
    keys = list(keys)
    return {verp_token(key, run_id, email): email for email in emails for key in keys}
