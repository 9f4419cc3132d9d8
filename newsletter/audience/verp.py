"""VERP return paths: the recipient (and issue) written into the envelope sender.

`verp_address` makes one for MAIL FROM; `parse_verp` reads one back from the address a
bounce was delivered to, which is how `bounces.py` matches a bounce that quotes nothing
of the original message.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

__all__ = ["parse_verp", "verp_address"]

_SLUG_RE = re.compile(r"^(\d{4}-\d{2}(?:-\d{2}_\d{4}-\d{2}-\d{2})?)\.(.+)$")


def verp_address(sender: str, recipient: str, slug: str | None = None) -> str:
    """`digest+2023-07.alice=example.org@example.org`: a return path naming the recipient.

    Bounces go to the envelope sender; with this as MAIL FROM, a bounce that quotes
    nothing of the original still says whom (and which issue) it was for.
    """
    local, _, domain = sender.rpartition("@")
    user, _, rdomain = recipient.strip().lower().rpartition("@")
    tag = f"{slug}.{user}={rdomain}" if slug else f"{user}={rdomain}"
    return f"{local}+{tag}@{domain}"


def parse_verp(address: str, sender: str | None = None) -> tuple[str | None, str] | None:
    """(slug or None, recipient) from a VERP address; None if it is not one."""
    local = parseaddr(address)[1].rpartition("@")[0]
    prefix = sender.rpartition("@")[0].lower() + "+" if sender else None
    if prefix and not local.lower().startswith(prefix):
        return None
    tag = local[len(prefix):] if prefix else local.partition("+")[2]
    user, eq, domain = tag.rpartition("=")
    if not eq or not user or "." not in domain:
        return None
    slug = None
    match = _SLUG_RE.match(user)
    if match:
        slug, user = match.groups()
    return slug, f"{user}@{domain}".lower()
