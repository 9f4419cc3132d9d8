"""Writing a file so that a crash, a full disk or Ctrl-C never leaves half of it behind.

Every file the tool writes that a user or a later run relies on (exports, the token
secret, item files, archive pages, failures.csv) goes through `atomic_write`: readers see
the old file or the new one, never a torn mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None, exclusive: bool = False) -> None:
    """Write `data` to `path` through a temp file in the same folder: fsync, then rename.

    The file keeps the permissions of the one it replaces, else gets `mode` (0o666 minus
    the umask when None; 0o600 for secrets). With `exclusive`, an existing `path` is left
    alone and `FileExistsError` raised (for files that must never be overwritten). The
    temp file is removed on any failure.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path, mode))
        if exclusive:
            _publish_new(Path(tmp), path, payload)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _publish_new(tmp: Path, path: Path, payload: bytes) -> None:
    """A hard link publishes the complete file at once and fails if `path` exists; where
    links are not supported (some network and FUSE filesystems), an exclusive create does."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        with open(path, "xb") as fh:
            fh.write(payload)


def _mode_for(path: Path, mode: int | None) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        if mode is not None:
            return mode
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
