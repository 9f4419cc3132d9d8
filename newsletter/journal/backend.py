"""Where the state lives and how to talk to it: a SQLite file or a PostgreSQL database.

The query modules beside this one write their SQL once, with `?` placeholders and the
portable subset both engines share (`ON CONFLICT`, `RETURNING`, `CASE`); `Db` runs it on
either. What differs lives here and nowhere else:

| | SQLite (one machine) | PostgreSQL (site and sender apart) |
|---|---|---|
| where | a file beside the config, 0600 | `postgresql://user@host:port/db` |
| placeholders | `?` | `?` rewritten to `%s` |
| a write | `BEGIN IMMEDIATE`: the one write lock | `BEGIN`; `lock=` adds an advisory lock for read-then-write |
| claiming | the write lock serialises claims | `FOR UPDATE SKIP LOCKED` (`Db.skip_locked`) |
| one send at a time | a lock file (send/run.py) | `pg_try_advisory_lock` (`Db.try_lock`) |
| the server went away | cannot happen | `StateUnavailable`; `Db.reconnect` waits for it |
| "something changed" | (one writer at a time: ask again) | `NOTIFY` / `LISTEN` (`Db.notify`, `Db.notified`) |

Passwords never sit in the YAML: the URL's `password_env=NAME` names an environment
variable, or libpq's own `PGPASSWORD` / `~/.pgpass` apply. `describe` is the only way a
URL is shown, with any password masked.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsletter.errors import NewsletterError
from newsletter.journal.refusals import state_error
from newsletter.journal.sqlitefile import sqlite_connect

__all__ = [
    "Cursor",
    "Db",
    "StateLocation",
    "StateUnavailable",
    "describe",
    "exists",
    "open_backend",
    "parse_state",
]

CONNECT_TIMEOUT = 10  # seconds libpq waits for a server before giving up on one attempt


class StateUnavailable(NewsletterError):
    """The PostgreSQL server cannot be reached (down, restarting, network gone)."""


class Cursor(Protocol):
    """What a query gets back, from either engine: rows and a row count."""

    rowcount: int
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


@dataclass(frozen=True)
class StateLocation:
    """A parsed `state:` value: a SQLite path, or a PostgreSQL URL (without `password_env`)."""

    path: Path | None = None
    url: str | None = None
    password_env: str | None = None

    @property
    def postgresql(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return describe(self)


def parse_state(value: str | Path, *, base: Path | None = None) -> StateLocation:
    """`postgresql://...` (or `postgres://`) -> a URL; anything else is a SQLite file path,
    relative to `base` (the config's folder)."""
    text = str(value)
    if re.match(r"(postgres|postgresql)://", text, re.IGNORECASE):
        parts = urlsplit(text)
        query = parse_qsl(parts.query, keep_blank_values=True)
        password_env = next((v for k, v in query if k == "password_env"), None)
        rest = urlencode([(k, v) for k, v in query if k != "password_env"])
        return StateLocation(url=urlunsplit(("postgresql", parts.netloc, parts.path, rest, "")),
                             password_env=password_env)
    if "://" in text:
        raise NewsletterError(f"state: not a SQLite file or a postgresql:// URL: {describe_text(text)}",
                              hint="write e.g. state: postgresql://newsletter@db.example.org/newsletter")
    path = Path(text).expanduser()
    return StateLocation(path=path if base is None or path.is_absolute() else (base / path))


def describe_text(url: str) -> str:
    """A URL with any password in it masked, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def describe(state: StateLocation) -> str:
    """How the state is shown to the user: the file, or the URL with no password."""
    if state.url is None:
        return str(state.path)
    return describe_text(state.url)


def exists(state: StateLocation) -> bool:
    """Whether there is a state to read: the SQLite file is there (a PostgreSQL server is
    asked when connecting, so always True here). Read-only commands never create the file."""
    return state.postgresql or (state.path is not None and state.path.exists())


class Db:
    """One open connection to the state, SQLite or PostgreSQL, in autocommit mode.

    `execute`/`executemany` take the journal's `?` SQL; writes go through `transaction`.
    """

    def __init__(self, state: StateLocation, raw: Any) -> None:
        self.state = state
        self.raw = raw
        self.dialect = "postgresql" if state.postgresql else "sqlite"
        self.skip_locked = " FOR UPDATE SKIP LOCKED" if state.postgresql else ""
        self._sql: dict[str, str] = {}
        self._held: set[int] = set()
        self._listening: set[str] = set()

    @property
    def postgresql(self) -> bool:
        return self.state.postgresql

    def _text(self, sql: str) -> str:
        if not self.postgresql:
            return sql
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return text

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        with self._errors():
            return self.raw.execute(self._text(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        with self._errors():
            if not self.postgresql:
                return self.raw.executemany(sql, rows)
            cur = self.raw.cursor()
            batch = [tuple(r) for r in rows]
            if batch:
                cur.executemany(self._text(sql), batch)
            return cur

    def insert_many(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Plain inserts of many rows (no conflict handling): PostgreSQL's COPY, which takes
        a 10,000-row plan in one stream instead of 10,000 statements."""
        if not self.postgresql:
            marks = ", ".join("?" * len(columns))
            self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            return
        with self._errors(), self.raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def transaction(self, lock: str | None = None, *, durable: bool = True,
                    pipelined: bool = False) -> Iterator[Db]:
        """One short write: all of it or nothing. SQLite takes its one write lock up front;
        on PostgreSQL `lock` names an advisory lock held to the end, for the few writes that
        read, decide, then write (two `serve` processes must not both decide yes).
        `durable=False` lets PostgreSQL return before its WAL reaches the disk (a server
        crash may lose the last fraction of a second of such writes, never corrupt them),
        as SQLite's synchronous=NORMAL does for every write; only for writes whose loss a
        later run notices and reports (see runs.checkpoint). `pipelined` sends PostgreSQL
        the statements without waiting for each answer (a read inside waits for all before
        it): for a hot path whose body reads rows but never a `rowcount` before the end."""
        if pipelined and self.postgresql:
            try:
                with self._errors(), self.raw.pipeline(), self.transaction(lock, durable=durable) as db:
                    yield db
            except BaseException:
                if not self.raw.closed and self.raw.info.transaction_status != 0:  # 0: IDLE
                    self._rollback()  # a ROLLBACK inside an aborted pipeline was skipped
                raise
            return
        try:
            self.execute("BEGIN IMMEDIATE" if not self.postgresql else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise state_error(exc, describe(self.state), "cannot write to the state file") from exc
        try:
            if not durable and self.postgresql:
                self.execute("SET LOCAL synchronous_commit TO OFF")
            if lock is not None and self.postgresql:
                self.execute("SELECT pg_advisory_xact_lock(?)", (_lock_key(lock),))
            yield self
            self.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # the file refused (full, read-only): one line, rolled back
            self._rollback()
            raise state_error(exc, describe(self.state), "cannot write to the state file") from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except (NewsletterError, sqlite3.Error):
            pass  # the connection is gone (the server rolled it back), or SQLite undoes it on the next open

    def try_lock(self, name: str) -> bool:
        """Take a session lock named `name` if no other connection holds it (PostgreSQL);
        held until `unlock` or the connection closes. SQLite: always True (see send/run.py)."""
        if not self.postgresql:
            return True
        key = _lock_key(name)
        got = bool(self.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0])
        if got:
            self._held.add(key)
        return got

    def unlock(self, name: str) -> None:
        if self.postgresql and _lock_key(name) in self._held:
            self._held.discard(_lock_key(name))
            self.execute("SELECT pg_advisory_unlock(?)", (_lock_key(name),))

    def notify(self, channel: str) -> None:
        """Tell every connection listening on `channel` (PostgreSQL: on commit). SQLite: nothing."""
        if self.postgresql:
            self.execute("SELECT pg_notify(?, '')", (f"newsletter_{channel}",))

    def listen(self, channel: str) -> None:
        if self.postgresql and channel not in self._listening:
            self.execute(f"LISTEN newsletter_{channel}")
            self._listening.add(channel)

    def notified(self) -> bool:
        """Whether a `notify` on a channel this connection listens to arrived since the last
        call (no round trip: a look at the socket). SQLite, or not listening: always True."""
        if not self.postgresql or not self._listening:
            return True
        with self._errors():
            return bool(list(self.raw.notifies(timeout=0)))

    def reconnect(self, *, wait: float = 600.0, on_wait: Callable[[str], None] | None = None) -> None:
        """After `StateUnavailable`: connect again, retrying until `wait` seconds have passed;
        session locks held before are taken again (refused if another process took them)."""
        if not self.postgresql:
            return
        held, self._held = self._held, set()
        listening, self._listening = self._listening, set()
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                self.raw = _pg_connect(self.state)
                break
            except StateUnavailable:
                if time.monotonic() > deadline:
                    raise
                if on_wait is not None and not told:
                    on_wait(f"the state database is unreachable ({describe(self.state)}): waiting for it")
                    told = True
                time.sleep(0.5)
        for key in held:
            if not self.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
                raise NewsletterError("another process took this send over while the state database was away",
                                      hint="let that one finish, then run this again")
            self._held.add(key)
        for channel in listening:
            self.listen(channel)

    def __enter__(self) -> Db:
        return self

    def __exit__(self, *exc: object) -> None:
        """`with journal.connect(...) as db:` closes the connection at the end (writes are
        committed by their own `transaction`s, never here)."""
        self.close()

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:  # noqa: BLE001 - closing a broken connection is best effort
            pass

    @contextmanager
    def _errors(self) -> Iterator[None]:
        if not self.postgresql:
            yield
            return
        import psycopg

        try:
            yield
        except psycopg.OperationalError as exc:
            if self.raw.closed or self.raw.broken:
                raise StateUnavailable(f"lost the state database ({describe(self.state)}): {_first_line(exc)}",
                                       hint="is the PostgreSQL server running?") from exc
            raise NewsletterError(f"the state database refused: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock name ('newsletter:' keeps ours apart)."""
    return zlib.crc32(f"newsletter:{name}".encode()) | (0x4E4C << 32)


def open_backend(state: StateLocation) -> Db:
    """Connect to the state: create the SQLite file (0600) if missing, or reach the server."""
    if state.postgresql:
        return Db(state, _pg_connect(state))
    assert state.path is not None
    return Db(state, sqlite_connect(state.path))


class _Row(tuple[Any, ...]):
    """A PostgreSQL row read like sqlite3.Row: by position or by column name."""

    names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> _Row:
        row = super().__new__(cls, values)
        row.names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return lambda values: _Row(values, names)


def _pg_connect(state: StateLocation) -> Any:
    """A psycopg connection in autocommit mode; the password from `password_env` if named."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency
        raise NewsletterError("a postgresql:// state needs the psycopg package",
                              hint="pip install 'psycopg[binary]'") from exc
    assert state.url is not None
    extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "newsletter"}
    if state.password_env:
        password = os.environ.get(state.password_env)
        if not password:
            raise NewsletterError(f"state: the environment variable {state.password_env} (password_env) is not set",
                                  hint=f"export {state.password_env}=... before running newsletter")
        extra["password"] = password
    try:
        conn = psycopg.connect(state.url, autocommit=True, row_factory=_row_factory, **extra)
    except psycopg.OperationalError as exc:
        raise StateUnavailable(f"cannot reach the state database {describe(state)}: {_first_line(exc)}",
                               hint="is the server running, and the user, database and password right?") from exc
    except psycopg.ProgrammingError as exc:
        raise NewsletterError(f"state: not a usable PostgreSQL URL {describe(state)}: {_first_line(exc)}",
                              hint="write e.g. postgresql://newsletter@db.example.org:5432/newsletter") from exc
    return conn
