"""The preview's mail catcher: the messages `send` delivered into the Maildir outbox.

Reading goes through the stdlib `mailbox.Maildir`; a message key from a URL is only ever
looked up in the Maildir's own table of contents, never joined into a path, so a URL
cannot reach a file outside the outbox. A message's HTML is served with a CSP that
sandboxes it (no scripts, no same origin), and the page frames it with `sandbox` too.
"""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "MESSAGE_CSP",
    "OutboxEntry",
    "OutboxMessage",
    "count_outbox",
    "list_outbox",
    "outbox_stamp",
    "outbox_routes",
    "read_message",
]

# Message HTML may load remote images but can run nothing and reach nothing else.
MESSAGE_CSP = ("default-src 'none'; img-src https: http: data: cid:; style-src 'unsafe-inline'; "
               "font-src https: data:; frame-ancestors 'self'; "
               "sandbox allow-popups allow-popups-to-escape-sandbox")
_KEY_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.,=+\\-]{0,200}\Z")
_RECIPIENT_HEADERS = ("X-RcptTo", "X-Original-To", "Delivered-To", "To")
LIST_LIMIT = 200

Render = Callable[[Request, str, dict[str, Any], int], Response]


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    recipient: str
    subject: str
    sender: str
    delivered: dt.datetime  # when the file landed in the outbox
    size: int


@dataclass(frozen=True)
class OutboxMessage:
    entry: OutboxEntry
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    raw: bytes


def _maildir(folder: Path) -> mailbox.Maildir | None:
    if not (folder / "cur").is_dir() or not (folder / "new").is_dir():
        return None
    return mailbox.Maildir(folder, factory=None, create=False)


def _files(folder: Path, colon: str) -> list[tuple[str, os.stat_result]]:
    """(key, stat) of every message file, without reading any of them: regular files only,
    never a symlink (it could point anywhere, /etc/passwd included)."""
    return [(key, stat) for key, _, stat in _message_files(folder, colon)]


def _message_files(folder: Path, colon: str) -> list[tuple[str, Path, os.stat_result]]:
    found = []
    for sub in ("new", "cur"):
        if (folder / sub).is_symlink():
            continue
        with os.scandir(folder / sub) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                    found.append((entry.name.split(colon)[0], Path(entry.path), entry.stat(follow_symlinks=False)))
    return found


def count_outbox(folder: Path) -> int:
    box = _maildir(folder)
    return len(_files(folder, box.colon)) if box is not None else 0


def outbox_stamp(folder: Path | None) -> str:
    """Changes whenever a message lands in (or leaves) the outbox: how many, and the newest
    file's time, so the outbox page can poll it cheaply and reload itself."""
    box = _maildir(folder) if folder else None
    if folder is None or box is None:
        return "0"
    files = _files(folder, box.colon)
    return f"{len(files)}-{max((stat.st_mtime_ns for _, stat in files), default=0)}"


def _header(msg: Any, names: tuple[str, ...]) -> str:
    for name in names:
        value = msg.get(name)
        if value:
            return " ".join(str(value).split())
    return ""


def _entry(key: str, msg: Any, stat: os.stat_result) -> OutboxEntry:
    return OutboxEntry(
        key=key,
        recipient=_header(msg, _RECIPIENT_HEADERS),
        subject=_header(msg, ("Subject",)),
        sender=_header(msg, ("From",)),
        delivered=dt.datetime.fromtimestamp(stat.st_mtime),
        size=stat.st_size,
    )


def _head(fh: Any) -> bytes:
    """The header block of a message file, read line by line up to the blank line."""
    lines = []
    for line in fh:
        if not line.strip():
            break
        lines.append(line)
    return b"".join(lines)


def list_outbox(folder: Path, *, limit: int = LIST_LIMIT) -> tuple[list[OutboxEntry], int]:
    """The newest `limit` messages, newest first, and how many there are in all."""
    box = _maildir(folder)
    if box is None:
        return [], 0
    files = sorted(_files(folder, box.colon), key=lambda f: (f[1].st_mtime, f[0]), reverse=True)
    entries = []
    for key, stat in files[:limit]:
        try:
            with box.get_file(key) as fh:
                headers = BytesHeaderParser(policy=policy.default).parsebytes(_head(fh))
        except (KeyError, OSError):
            continue  # moved or deleted meanwhile
        entries.append(_entry(key, headers, stat))
    return entries, len(files)


def _part(msg: EmailMessage, kind: str) -> str | None:
    body = msg.get_body(preferencelist=(kind,))
    if body is None:
        return None
    try:
        return str(body.get_content())
    except (LookupError, ValueError):
        payload = body.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)


def read_message(folder: Path, key: str) -> OutboxMessage | None:
    """One message by its Maildir key, or None if there is no such message."""
    box = _maildir(folder)
    if box is None or not _KEY_RE.match(key):
        return None
    found = [(path, stat) for k, path, stat in _message_files(folder, box.colon) if k == key]
    if not found:
        return None
    path, stat = found[0]
    try:  # O_NOFOLLOW: a file swapped for a symlink since the listing is refused too
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    headers = tuple((name, " ".join(str(value).split())) for name, value in msg.items())
    return OutboxMessage(_entry(key, msg, stat), headers, _part(msg, "plain"), _part(msg, "html"), raw)


def outbox_routes(render: Render, outbox: Callable[[], Path | None]) -> list[Route]:
    """The outbox pages; `outbox()` gives the folder of the config currently loaded."""

    def not_found(request: Request, what: str) -> Response:
        return render(request, "message.html", {"message": None, "missing": what}, 404)

    async def index(request: Request) -> Response:
        where = outbox()
        entries, total = list_outbox(where) if where else ([], 0)
        return render(request, "outbox.html", {"entries": entries, "total": total, "folder": where,
                                               "stamp": outbox_stamp(where)}, 200)

    async def stamp(request: Request) -> Response:
        return JSONResponse({"stamp": outbox_stamp(outbox())}, headers={"Cache-Control": "no-store"})

    def lookup(request: Request) -> OutboxMessage | None:
        where = outbox()
        return read_message(where, request.path_params["key"]) if where else None

    async def message(request: Request) -> Response:
        found = lookup(request)
        if found is None:
            return not_found(request, request.path_params["key"])
        return render(request, "message.html", {"message": found, "missing": None}, 200)

    async def message_html(request: Request) -> Response:
        found = lookup(request)
        if found is None or found.html is None:
            return Response("no such message or no HTML part\n", 404, media_type="text/plain")
        return Response(found.html, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": MESSAGE_CSP})

    async def message_raw(request: Request) -> Response:
        found = lookup(request)
        if found is None:
            return Response("no such message\n", 404, media_type="text/plain")
        return Response(found.raw, media_type="text/plain; charset=utf-8")

    return [
        Route("/outbox", index, name="outbox"),
        Route("/api/outbox", stamp, name="outbox_stamp"),
        Route("/outbox/{key}", message, name="message"),
        Route("/outbox/{key}/html", message_html, name="message_html"),
        Route("/outbox/{key}/raw", message_raw, name="message_raw"),
    ]
