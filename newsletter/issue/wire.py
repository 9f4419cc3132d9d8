"""The HTML part as it travels: quoted-printable with CRLF line ends, and its size then.

Gmail clips a message whose HTML passes 102 KB, hiding everything after the cut (the
later sections, the footer, the unsubscribe link). What counts is the part as sent, not
the file on disk: CRLF line ends and quoted-printable's `=3D` for every `=` and soft line
breaks every 76 octets make the sample issue about 5% larger than its email.html. So the
size is measured here, on the same encoding `compose` uses, and both the build's excerpt
decision (`render.py`) and the `html-size` check read it.

| as sent                     | what happens                                                  |
|-----------------------------|---------------------------------------------------------------|
| up to `NEAR_CLIP_BYTES` (90 KB) | nothing                                                   |
| up to `EXCERPT_BYTES` (100 KB)  | a warning: a few more items will get the issue clipped    |
| over `EXCERPT_BYTES`        | `clip: excerpt` builds the short email; `clip: refuse` fails  |

`EXCERPT_BYTES` leaves 2 KB below the clip for what differs per recipient (name, tokens).
"""

from __future__ import annotations

import re
from email import quoprimime

__all__ = ["CLIP_BYTES", "EXCERPT_BYTES", "NEAR_CLIP_BYTES", "quoted_printable", "sent_bytes"]

CLIP_BYTES = 102 * 1024  # Gmail hides everything past this under "[Message clipped]"
EXCERPT_BYTES = 100 * 1024
NEAR_CLIP_BYTES = 90 * 1024
_SLOT_RE = re.compile(r"@@nl:[a-z0-9_]+@@")
_SLOT_ROOM = "x" * 160  # a long name or a tokened link: room for what a slot becomes


def quoted_printable(text: str) -> str:
    """`text` as a quoted-printable body with CRLF line ends (RFC 2045), lines of at most 76."""
    return quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), maxlinelen=76, eol="\r\n")


def sent_bytes(html: str) -> int:
    """The octets of `html` as the message's HTML part carries it; slot markers left for
    per-recipient values count as 160 characters each."""
    return len(quoted_printable(_SLOT_RE.sub(_SLOT_ROOM, html)).encode("ascii"))
