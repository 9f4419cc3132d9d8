"""Rules over the message as mail servers and providers handle it: size, lines, headers.

Gmail clips an HTML part past 102 KB (hiding the end of the issue and the unsubscribe
link), servers break lines past RFC 5322's 998 octets at random places, and Gmail and
Yahoo distrust bulk mail without the standard headers and one-click unsubscribe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from newsletter.issue.checks.document import message_headers
from newsletter.issue.checks.findings import Finding, error, warning
from newsletter.issue.compose import MAX_LINE_OCTETS

__all__ = ["CLIP_BYTES", "NEAR_CLIP_BYTES", "check_headers", "check_line_lengths", "check_size"]

CLIP_BYTES = 102 * 1024  # Gmail hides everything past this under "[Message clipped]"
NEAR_CLIP_BYTES = 90 * 1024


def check_size(html_bytes: int) -> list[Finding]:
    kb = html_bytes / 1024
    if html_bytes > CLIP_BYTES:
        return [error("html-size", "email.html", f"the HTML is {kb:.0f} KB; Gmail clips messages over 102 KB, "
                      "hiding the end of the issue and the unsubscribe link",
                      "cut items, shorten summaries or split the issue")]
    if html_bytes > NEAR_CLIP_BYTES:
        return [warning("html-size", "email.html", f"the HTML is {kb:.0f} KB, close to Gmail's 102 KB clip",
                        "leave room: a few more items will get the issue clipped")]
    return []


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
