"""Keep one issue built while its sources change: the state behind `newsletter preview`.

`LiveBuild` rebuilds through the very same `build_issue` as `newsletter build` (in memory,
`write=False`), so what is previewed is what is built and sent. A failed build is kept as
a list of `ErrorInfo` (file, line, hint and the lines around it) instead of an exception,
so the server keeps running and the page can show what to fix. Every rebuild gets a new
version string; pages long-poll `wait_for_change` and reload when it moves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import traceback
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from newsletter.config import Config, load_config
from newsletter.daterange import DateRange
from newsletter.errors import ErrorList, NewsletterError
from newsletter.issue import BuildResult, build_issue

__all__ = ["ErrorInfo", "LiveBuild", "Snapshot", "error_infos"]

log = logging.getLogger("newsletter.preview")

_CONTEXT_LINES = 2
_MAX_SOURCE_BYTES = 1_000_000


@dataclass(frozen=True)
class ErrorInfo:
    """One problem as the page shows it; `context` is (line number, text) around `line`."""

    message: str
    path: str | None = None
    line: int | None = None
    field: str | None = None
    hint: str | None = None
    context: tuple[tuple[int, str], ...] = ()

    @property
    def where(self) -> str:
        if not self.path:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class Snapshot:
    """The outcome of one build: a result and its config, or the errors that stopped it."""

    version: str
    built_at: dt.datetime
    config: Config | None
    result: BuildResult | None
    errors: tuple[ErrorInfo, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result is not None


def _flatten(exc: NewsletterError) -> list[NewsletterError]:
    if isinstance(exc, ErrorList):
        return [leaf for e in exc.errors for leaf in _flatten(e)]
    return [exc]


def _source_context(path: Path, line: int | None) -> tuple[tuple[int, str], ...]:
    """The offending line and its neighbours, so the page shows what to fix."""
    if not line or not path.is_file() or path.stat().st_size > _MAX_SOURCE_BYTES:
        return ()
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    first = max(1, line - _CONTEXT_LINES)
    last = min(len(lines), line + _CONTEXT_LINES)
    return tuple((n, lines[n - 1]) for n in range(first, last + 1))


def _shown_path(raw: str, root: Path) -> tuple[str, Path]:
    path = Path(raw)
    full = path if path.is_absolute() else root / path
    try:
        return str(full.resolve().relative_to(root.resolve())), full
    except ValueError:
        return raw, full


def error_infos(exc: NewsletterError, root: Path) -> tuple[ErrorInfo, ...]:
    """Every error inside `exc` (an `ErrorList` holds several), paths shown from `root`."""
    infos = []
    for err in _flatten(exc):
        shown: str | None = None
        context: tuple[tuple[int, str], ...] = ()
        if err.path:
            shown, full = _shown_path(err.path, root)
            context = _source_context(full, err.line)
        infos.append(ErrorInfo(err.message, shown, err.line, err.field, err.hint, context))
    return tuple(infos)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LiveBuild:
    """The current build of one date range, rebuilt on demand; thread-safe."""

    def __init__(self, config_path: Path, date_range: DateRange, *,
                 build: Callable[..., BuildResult] = build_issue) -> None:
        self.config_path = Path(config_path).resolve()
        self.date_range = date_range
        self._build = build
        self._epoch = uuid.uuid4().hex[:8]  # a restarted server reloads open pages too
        self._count = 0
        self._build_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._snapshot: Snapshot | None = None
        self._last_config: Config | None = None
        self.watching = threading.Event()  # set while the file watchers are in place

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def snapshot(self) -> Snapshot:
        snap = self._snapshot
        return snap if snap is not None else self.rebuild()

    @property
    def config(self) -> Config | None:
        """The last config that loaded, so the outbox works while a build is broken."""
        return self._last_config

    def rebuild(self) -> Snapshot:
        """Build now; never raises for a user error, which becomes the snapshot's errors."""
        with self._build_lock:
            config, result, errors = self._attempt()
            with self._lock:
                self._count += 1
                snap = Snapshot(f"{self._epoch}-{self._count}", dt.datetime.now(), config, result, errors)
                self._snapshot = snap
                waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_resolve, fut)
        return snap

    def release_waiters(self) -> None:
        """Answer every open long-poll now (at shutdown, so Ctrl-C never waits on them)."""
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_resolve, fut)

    def _attempt(self) -> tuple[Config | None, BuildResult | None, tuple[ErrorInfo, ...]]:
        config = None
        try:
            config = load_config(self.config_path)
            self._last_config = config
            result = self._build(config, self.date_range, write=False)
            issue = result.rendered.issue
            log.info("Built %s: %d items in %d themes", issue.range.label, len(issue.items), len(issue.sections))
            for warning in result.warnings:
                log.warning("warning: %s", warning)
            return config, result, ()
        except NewsletterError as exc:
            for line in exc.lines():
                log.warning("error: %s", line)
            return config, None, error_infos(exc, self.root)
        except Exception as exc:  # noqa: BLE001 - a bug must not stop the server; the terminal gets the traceback
            log.error("unexpected error while building:\n%s", traceback.format_exc())
            message = f"unexpected error: {type(exc).__name__}: {exc}"
            return config, None, (ErrorInfo(message, hint="this is a bug in newsletter; "
                                            "the traceback is in the terminal"),)

    async def wait_for_change(self, since: str, timeout: float) -> str:
        """Return the current version as soon as it differs from `since`, or after `timeout`."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            current = self._snapshot.version if self._snapshot else ""
            if current != since:
                return current
            self._waiters.append((loop, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if (loop, fut) in self._waiters:
                    self._waiters.remove((loop, fut))
        return self.snapshot.version

    def watch_targets(self) -> tuple[tuple[Path, ...], Path]:
        """Folders watched recursively (items, templates) and the config's own folder."""
        config = self._last_config
        folders = [self.root / "items", self.root / "templates"]
        if config is not None:
            folders = [config.items_dir, config.root / "templates"]
            if config.templates:
                folders.append(config.templates)
        existing = tuple(dict.fromkeys(p.resolve() for p in folders if p.is_dir()))
        return existing, self.root

    async def watch(self, stop: asyncio.Event) -> None:
        """Rebuild whenever a watched file changes, until `stop` is set."""
        while not stop.is_set():
            targets = self.watch_targets()
            async with aclosing(self._changes(targets, stop)) as changes:
                async for _ in changes:
                    self.watching.clear()  # until we know the same folders are still the ones
                    await asyncio.to_thread(self.rebuild)
                    if self.watch_targets() != targets:
                        break  # the config names other folders now, or one appeared: watch anew
                    self.watching.set()
                else:
                    await asyncio.sleep(0.2)  # a watcher ended (its folder vanished): start over

    async def _changes(self, targets: tuple[tuple[Path, ...], Path], stop: asyncio.Event
                       ) -> AsyncGenerator[set[tuple[Change, str]], None]:
        """Changes under the folders (recursively) and to the config file (its folder only)."""
        folders, root = targets
        names = {self.config_path.name, "items", "templates"}
        inner = asyncio.Event()
        queue: asyncio.Queue[set[tuple[Change, str]]] = asyncio.Queue()

        def at_root(change: Change, path: str) -> bool:
            return Path(path).name in names

        async def pump(paths: tuple[Path, ...], recursive: bool, keep: Callable[[Change, str], bool]) -> None:
            async for changes in awatch(*paths, watch_filter=keep, stop_event=inner,
                                        recursive=recursive, step=50):
                await queue.put(changes)

        tasks = {asyncio.create_task(pump((root,), False, at_root))}
        if folders:
            tasks.add(asyncio.create_task(pump(folders, True, DefaultFilter())))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.sleep(0)  # each pump runs up to its first wait: its watcher is in place
        self.watching.set()
        try:
            while True:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return
                yield getter.result()
        finally:
            self.watching.clear()
            inner.set()
            stopper.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
