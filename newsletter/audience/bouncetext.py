"""Plain-text bounces the library's detectors miss: who failed and the server's words.

Each reader takes the bounce's explanation (its text, up to the returned copy) and gives
{address: diagnostic}. One function per format, each finding only the lines its MTA
writes, so one format's wording never makes another's address:

| format | what names a failed address |
|---|---|
| Sendmail V5 transcript | `>>> RCPT To:<a>` then `<<< 5xx ...`, or `5xx <a>... words` |
| DragonFly Mail Agent | `There was an error delivering your mail to <a>.` and the paragraph after |
| OpenSMTPD | `a: 5xx ...` lines under "the following list of recipients" |
| Exchange / Office 365, no report | "Delivery has failed to these recipients", "Your message to a couldn't be delivered" |
| au/KDDI (ISO-2022-JP) | `Could not be delivered to: <a>` and the next line, or `<a>` and the Japanese line after |
| Japanese MTAs (Shift_JIS) | `宛先: a` and `理由: ...` |

Only addresses that parse as addresses are kept; the caller decides whether the message
is a bounce at all (it must come from a mail system) and hard or soft (`bouncekind`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from newsletter.audience.mimeparts import clean

__all__ = ["text_failures"]

_ADDR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_REPLY = re.compile(r"(?<![\d.])[45]\d\d(?:[ -]|$)")


def text_failures(explanation: str) -> dict[str, str]:
    """{failed address (lower-case): diagnostic} from every format that recognises the text."""
    found: dict[str, str] = {}
    for reader in _READERS:
        for address, diagnostic in reader(explanation[:200_000]).items():
            found.setdefault(address.lower(), clean(diagnostic))
    return found


def _sendmail_v5(text: str) -> dict[str, str]:
    """`----- Transcript of session follows -----`: the reply to each RCPT, or the summary line."""
    if not re.search(r"-{3,}\s*Transcript of session follows", text, re.IGNORECASE):
        return {}
    found: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        rcpt = re.match(rf"\s*>>>\s*RCPT\s+TO:\s*<?({_ADDR})>?", line, re.IGNORECASE)
        if rcpt:
            reply = next((ln for ln in lines[i + 1:i + 4] if ln.lstrip().startswith("<<<")), "")
            if _REPLY.search(reply):
                found[rcpt.group(1)] = reply.lstrip("< \t")
            continue
        summary = re.match(rf"\s*([45]\d\d)[ -](?:[45]\.\d+\.\d+\s+)?<?({_ADDR})>?\.\.\.\s*(.+)", line)
        if summary:
            found.setdefault(summary.group(2), line.strip())
    return found


def _dragonfly(text: str) -> dict[str, str]:
    if "DragonFly Mail Agent" not in text:
        return {}
    found = {}
    for match in re.finditer(rf"error delivering your mail to <?({_ADDR})>?\.?", text, re.IGNORECASE):
        after = text[match.end():match.end() + 1000]
        found[match.group(1)] = re.split(r"Message headers follow|error delivering your mail to", after)[0]
    return found


def _opensmtpd(text: str) -> dict[str, str]:
    if not re.search(r"following list of\s+recipients", text, re.IGNORECASE):
        return {}
    section = re.split(r"following list of\s+recipients:?", text, maxsplit=1, flags=re.IGNORECASE)[1]
    found = {}
    for match in re.finditer(rf"^\s*<?({_ADDR})>?:\s*(.+)$", section, re.MULTILINE):
        found[match.group(1)] = match.group(2)
    return found


def _exchange(text: str) -> dict[str, str]:
    """Exchange and Office 365 reports, read from their text (or the HTML made text)."""
    found: dict[str, str] = {}
    head = re.search(r"Delivery has failed to these recipients or groups:\s*\n\s*\n?\s*([^\n]+)\n(.{0,2000}?)\n\s*\n",
                     text, re.IGNORECASE | re.DOTALL)
    if head:
        address = re.search(_ADDR, head.group(1))
        if address:
            found[address.group(0)] = head.group(2)
    for match in re.finditer(rf"Your message to <?({_ADDR})>? couldn't be delivered\.?\s*(.{{0,2000}}?)(?:\n\s*\n|$)",
                             text, re.IGNORECASE | re.DOTALL):
        found.setdefault(match.group(1), match.group(2))
    for match in re.finditer(rf"({_ADDR})[^\n]*\n\s*(?:#?\s*)?Remote Server returned '([^']+)'", text,
                             re.IGNORECASE):
        found[match.group(1)] = match.group(2)
    if re.search(r"following recipient\(s\) (could not|cannot) be reached", text, re.IGNORECASE):
        for match in re.finditer(rf"^\s*'?<?({_ADDR})>?'?\s+on\s+[^\n]+\n\s*([^\n]+)", text, re.MULTILINE):
            found.setdefault(match.group(1), match.group(2))
    return found


def _kddi(text: str) -> dict[str, str]:
    """au/KDDI: English lines from ezweb, or Japanese (ISO-2022-JP, decoded by now)."""
    found = {}
    for match in re.finditer(rf"Could not be delivered to:\s*<?({_ADDR})>?\s*\n\s*([^\n]+)", text, re.IGNORECASE):
        found[match.group(1)] = match.group(2)
    if re.search("配信|送信|届", text):
        for match in re.finditer(rf"^\s*<({_ADDR})>\s*:?\s*\n?\s*([^\n]*[ぁ-んァ-ン一-龥][^\n]*)", text, re.MULTILINE):
            found.setdefault(match.group(1), match.group(2))
    return found


def _japanese_fields(text: str) -> dict[str, str]:
    """Japanese MTAs (often Shift_JIS): `宛先: address` with `理由: words` below."""
    found = {}
    for match in re.finditer(rf"宛先\s*[:：]\s*<?({_ADDR})>?(.{{0,400}}?)(?:理由|エラー内容|詳細)\s*[:：]\s*([^\n]+)", text,
                             re.DOTALL):
        found[match.group(1)] = match.group(3)
    return found


_READERS: tuple[Callable[[str], dict[str, str]], ...] = (
    _sendmail_v5, _dragonfly, _opensmtpd, _exchange, _kddi, _japanese_fields,
)
