"""The return mailbox on disk, and reading one message from it without trusting it.

Sources: a Maildir, an mbox, a folder of message files or message files (an IMAP
mailbox is `imapbox.py`'s). Each message is `(where, raw bytes)`; `where` names it in
every report (its file, `mbox#n`, or `imap UID n`).

One bad message costs one message: `read_safely` parses each in isolation and turns
whatever goes wrong into an `Unreadable` with the reason, so the import skips it by name
and goes on. The bounds:

| bound | limit | why |
|---|---|---|
| size | `MAX_BYTES` (10 MB) | a bounce returns at most the headers or one message |
| MIME parts | `MAX_BOUNDARIES` (500 multipart declarations) | thousands of nested parts exhaust the parser's stack |
| nesting | `RecursionError` caught; our walks stop at `mimeparts.MAX_DEPTH` | the same, whatever slipped through |
| time | `SECONDS` (10 s) per message, from the main thread | a pathological message must not hold up the rest |
"""

from __future__ import annotations

import email
import mailbox
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from newsletter.audience.bounceparse import Reading, read_message
from newsletter.errors import NewsletterError

__all__ = ["MAX_BYTES", "MAX_BOUNDARIES", "SECONDS", "Unreadable", "read_messages", "read_safely"]

MAX_BYTES = 10 * 1024 * 1024
MAX_BOUNDARIES = 500
SECONDS = 10.0
_MULTIPART_RE = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?multipart/")


@dataclass(frozen=True)
class Unreadable:
    """A message skipped, and why (for the report: by file or IMAP UID)."""

    reason: str


class _TooSlow(Exception):
    pass


def read_messages(sources: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of every message in each source: a Maildir, an mbox, a folder of
    message files, or one message file."""
    for source in sources:
        path = Path(source)
        if path.is_dir():
            yield from _read_folder(path)
        elif path.is_file():
            with path.open("rb") as fh:
                is_mbox = fh.read(5) == b"From "
            yield from (_read_mbox(path) if is_mbox else [(str(path), path.read_bytes())])
        else:
            raise NewsletterError("no such mailbox or message file", path=path,
                                  hint="give a Maildir folder, an mbox file, message files or an imaps:// URL")


def _read_folder(path: Path) -> Iterator[tuple[str, bytes]]:
    if (path / "cur").is_dir() or (path / "new").is_dir():
        files = sorted(f for sub in ("new", "cur") if (path / sub).is_dir() for f in (path / sub).iterdir())
    else:
        files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise NewsletterError("not a Maildir (no cur/ or new/ folder)", path=path,
                                  hint="point at the Maildir folder that holds cur/, new/ and tmp/")
    for file in files:
        try:
            yield str(file), file.read_bytes()
        except OSError:
            continue  # moved by the mail client while we read: nothing to do


def _read_mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, factory=None, create=False)
    for number, key in enumerate(sorted(box.iterkeys()), start=1):
        yield f"{path}#{number}", box.get_bytes(key)


def read_safely(raw: bytes) -> tuple[Message, Reading] | Unreadable:
    """The parsed message and what it is, or why it cannot be read; never raises."""
    if len(raw) > MAX_BYTES:
        return Unreadable(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    if len(_MULTIPART_RE.findall(raw)) > MAX_BOUNDARIES:
        return Unreadable(f"more than {MAX_BOUNDARIES} nested MIME parts")
    try:
        with _time_limit(SECONDS):
            msg = email.message_from_bytes(raw)
            return msg, read_message(msg)
    except _TooSlow:
        return Unreadable(f"reading it took longer than {SECONDS:g} seconds")
    except RecursionError:
        return Unreadable("MIME parts nested too deeply")
    except Exception as exc:  # noqa: BLE001 - anyone can write to this mailbox: skip the message, not the import
        return Unreadable(f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise `_TooSlow` after `seconds` (a real-time timer; only in the main thread, where
    Python delivers signals; elsewhere the size and part limits bound the work)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: object) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
