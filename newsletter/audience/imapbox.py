"""The return mailbox over IMAP: `imaps://user@host/INBOX`, each message read once.

| URL | connection |
|---|---|
| `imaps://user@host[:993]/FOLDER` | TLS from the first byte, certificate and host name verified |
| `imap://user@127.0.0.1[:143]/FOLDER` | STARTTLS if offered, else plain: loopback only |
| `imap://user@host/...` elsewhere | refused, unless `allow_plain` (a password in the clear otherwise) |

The password comes from the environment (`PASSWORD_ENV`), never from the URL, the
config or a log. Trust is the system's (set `SSL_CERT_FILE` to trust a private CA).

A run reads the messages not yet seen (`UID SEARCH UNSEEN`), with `BODY.PEEK` so that a
`scan` changes nothing, at most `MAX_BYTES` + 1 bytes each (so a huge one is reported,
not downloaded). After the import has handled a message (recorded it, or skipped it as
unreadable and reported it), `done` marks it `\\Seen`, or moves it to `move_to`: a second
run reads nothing twice, and a crash mid-way re-reads only messages whose effect is
idempotent (each bounce is stored under its own key).
"""

from __future__ import annotations

import imaplib
import os
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from newsletter.audience.mailboxes import MAX_BYTES
from newsletter.deliver import is_loopback
from newsletter.errors import NewsletterError

__all__ = ["PASSWORD_ENV", "ImapMailbox", "ImapSource", "is_imap_url", "parse_imap_url"]

PASSWORD_ENV = "NEWSLETTER_IMAP_PASSWORD"
TIMEOUT = 60.0
_UID_RE = re.compile(rb"UID (\d+)")


@dataclass(frozen=True)
class ImapSource:
    """Where the mailbox is; `str()` never holds a password."""

    secure: bool  # imaps://
    host: str
    port: int
    user: str
    folder: str

    def __str__(self) -> str:
        scheme = "imaps" if self.secure else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def is_imap_url(text: str) -> bool:
    return text.lower().startswith(("imap://", "imaps://"))


def parse_imap_url(text: str, *, allow_plain: bool = False) -> ImapSource:
    """The mailbox an `imaps://user@host[:port]/FOLDER` URL names; a plain `imap://` one
    only on a loopback host or with `allow_plain`."""
    parts = urlsplit(text)
    hint = "write it as imaps://user@host/INBOX (the password in $" + PASSWORD_ENV + ")"
    if parts.password is not None:
        raise NewsletterError(f"{_redacted(text)}: a password in the URL would end up in logs", hint=hint)
    try:
        port = parts.port
    except ValueError as exc:
        raise NewsletterError(f"{text}: bad port ({exc})", hint=hint) from exc
    if not parts.hostname or not parts.username:
        raise NewsletterError(f"{text}: the IMAP URL needs a user and a host", hint=hint)
    secure = parts.scheme.lower() == "imaps"
    if not secure and not allow_plain and not is_loopback(parts.hostname):
        raise NewsletterError(f"{text}: plain imap:// would send the password in the clear",
                              hint="use imaps://, or pass --allow-plain-imap for a trusted network")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapSource(secure, parts.hostname, port or (993 if secure else 143), unquote(parts.username), folder)


def _redacted(text: str) -> str:
    return re.sub(r"(//[^:/@]*):[^@/]*@", r"\1:***@", text)


class ImapMailbox:
    """One IMAP session on one folder: the unseen messages, then mark each done."""

    def __init__(self, source: ImapSource, *, move_to: str | None = None) -> None:
        self.source = source
        self.move_to = move_to
        self._imap: imaplib.IMAP4 | None = None

    def __enter__(self) -> ImapMailbox:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise NewsletterError(f"{self.source}: no IMAP password", hint=f"set the environment variable {PASSWORD_ENV}")
        try:
            self._imap = self._connect()
            self._imap.login(self.source.user, password)
            kind, _ = self._imap.select(_quoted(self.source.folder), readonly=False)
        except imaplib.IMAP4.error as exc:
            raise NewsletterError(f"{self.source}: the IMAP server said: {_said(exc)}",
                                  hint="check the user, the folder and $" + PASSWORD_ENV) from exc
        except (OSError, ssl.SSLError) as exc:
            raise NewsletterError(f"{self.source}: cannot connect ({exc})",
                                  hint="check the host and port; for a private CA set SSL_CERT_FILE") from exc
        if kind != "OK":
            raise NewsletterError(f"{self.source}: no such folder", hint="name an existing folder, e.g. /INBOX")
        return self

    def _connect(self) -> imaplib.IMAP4:
        context = ssl.create_default_context()
        if self.source.secure:
            return imaplib.IMAP4_SSL(self.source.host, self.source.port, ssl_context=context, timeout=TIMEOUT)
        imap = imaplib.IMAP4(self.source.host, self.source.port, timeout=TIMEOUT)
        if "STARTTLS" in imap.capabilities:
            imap.starttls(ssl_context=context)
        return imap

    def __exit__(self, *exc: object) -> None:
        if self._imap is not None:
            try:
                if self.move_to:
                    self._imap.expunge()
                self._imap.logout()
            except (imaplib.IMAP4.error, OSError):
                pass

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """(`imap UID n`, raw bytes) of each unseen message, oldest first, left unseen."""
        imap = self._session()
        try:
            kind, data = imap.uid("SEARCH", "UNSEEN")
            uids = data[0].split() if kind == "OK" and data and data[0] else []
            for uid in uids:
                kind, parts = imap.uid("FETCH", uid, f"(BODY.PEEK[]<0.{MAX_BYTES + 1}>)")
                raw = next((p[1] for p in parts if isinstance(p, tuple) and len(p) > 1), None) if kind == "OK" else None
                if isinstance(raw, bytes):  # else gone meanwhile (another client moved it): nothing to do
                    yield f"imap UID {uid.decode()}", raw
        except (imaplib.IMAP4.error, OSError) as exc:
            raise NewsletterError(f"{self.source}: lost the IMAP connection: {_said(exc)}",
                                  hint="the messages handled so far are recorded and marked; run the import again") from exc

    def done(self, where: str) -> None:
        """Mark a handled message seen, or move it to `move_to`."""
        uid = where.rpartition(" ")[2]
        imap = self._session()
        try:
            if self.move_to:
                if "MOVE" in imap.capabilities:
                    imap.uid("MOVE", uid, _quoted(self.move_to))
                    return
                imap.uid("COPY", uid, _quoted(self.move_to))
                imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen \Deleted)")
                return
            imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Seen)")
        except (TimeoutError, imaplib.IMAP4.error, OSError) as exc:
            raise NewsletterError(f"{self.source}: cannot mark {where} as read: {_said(exc)}",
                                  hint="the messages handled so far are recorded; run the import again") from exc

    def _session(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise RuntimeError("use ImapMailbox as a context manager")
        return self._imap


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(exc: BaseException) -> str:
    text = str(exc)
    return text[2:-1] if text.startswith("b'") else text
