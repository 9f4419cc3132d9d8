"""Rules over the message as mail servers and providers handle it: size, lines, headers.

Gmail clips an HTML part past 102 KB as sent (hiding the end of the issue and the
unsubscribe link; a build in `clip: excerpt` mode sends a short excerpt instead),
servers break lines past RFC 5322's 998 octets at random places, and Gmail and Yahoo
distrust bulk mail without the standard headers and one-click unsubscribe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from newsletter.issue.checks.document import message_headers
from newsletter.issue.checks.findings import Finding, error, note, warning
from newsletter.issue.compose import MAX_LINE_OCTETS
from newsletter.issue.wire import CLIP_BYTES, NEAR_CLIP_BYTES

__all__ = ["check_excerpt", "check_headers", "check_line_lengths", "check_size"]



def check_size(sent: int) -> list[Finding]:
    """`sent`: the octets of the HTML part as sent (CRLF, quoted-printable; see `issue/wire.py`)."""
    kb = sent / 1024
    if sent > CLIP_BYTES:
        return [error("html-size", "email.html", f"the HTML part is {kb:.0f} KB as sent; Gmail clips messages "
                      "over 102 KB, hiding the end of the issue and the unsubscribe link",
                      "set `archive_url` (the short excerpt is then sent instead), cut items or shorten summaries")]
    if sent > NEAR_CLIP_BYTES:
        return [warning("html-size", "email.html", f"the HTML part is {kb:.0f} KB as sent, close to Gmail's "
                        "102 KB clip", "leave room: a few more items will get the issue clipped")]
    return []


def check_excerpt(excerpt_of: int, web_url: str) -> list[Finding]:
    """Say that the short excerpt was built instead of the full email, and why."""
    if not excerpt_of:
        return []
    return [note("clip-excerpt", "email.html", f"the full email would be {excerpt_of / 1024:.0f} KB as sent, "
                 "over Gmail's 102 KB clip: this is the excerpt (each item's title and first line, linking "
                 f"to the full issue at {web_url})", "nothing to fix; `clip: refuse` fails the build instead")]


def check_line_lengths(files: Mapping[str, bytes]) -> list[Finding]:
    """RFC 5322 caps lines at 998 octets; servers break longer lines at random places."""
    findings = []
    for name, data in files.items():
        for number, line in enumerate(data.split(b"\n"), start=1):
            size = len(line.rstrip(b"\r"))
            if size > MAX_LINE_OCTETS:
                findings.append(error("long-line", f"{name}:{number}",
                                      f"a line of {size} octets (the limit is 998)",
                                      "break the template line, or shorten the text or URL on it"))
    return findings


def check_headers(message: bytes) -> list[Finding]:
    """The headers a subscriber's provider looks for: one-click unsubscribe (RFC 8058) and the rest."""
    headers = message_headers(message)
    findings = []
    for name in ("From", "To", "Date", "Message-ID", "List-Id"):
        if not str(headers.get(name) or "").strip():
            findings.append(error("message-headers", f"sample.eml: {name}", f"the message has no {name} header",
                                  "keep issue/compose.py's headers; providers distrust messages without it"))
    value = " ".join(str(headers.get("List-Unsubscribe") or "").split())
    targets = re.findall(r"<([^>]*)>", value)
    if not value:
        findings.append(error("list-unsubscribe", "sample.eml: List-Unsubscribe", "no List-Unsubscribe header: "
                              "Gmail and Yahoo require one from bulk senders",
                              "configure `unsubscribe: {url: https://..., mailto: ...}`"))
    else:
        if not any(t.startswith("https://") for t in targets):
            findings.append(error("list-unsubscribe", "sample.eml: List-Unsubscribe",
                                  "List-Unsubscribe has no https:// address, so one-click unsubscribe cannot work",
                                  "set `unsubscribe.url` to an https:// address"))
        if not any(t.startswith("mailto:") for t in targets):
            findings.append(error("list-unsubscribe", "sample.eml: List-Unsubscribe",
                                  "List-Unsubscribe has no mailto: address", "set `unsubscribe.mailto`"))
    post = " ".join(str(headers.get("List-Unsubscribe-Post") or "").split())
    if post != "List-Unsubscribe=One-Click":
        findings.append(error("list-unsubscribe", "sample.eml: List-Unsubscribe-Post",
                              "no `List-Unsubscribe-Post: List-Unsubscribe=One-Click` header (RFC 8058)",
                              "keep issue/compose.py's List-Unsubscribe-Post header"))
    return findings
