"""files.atomic_write: readers see the old file or the new one, never a torn mix or a leftover."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.files import atomic_write


def test_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    atomic_write(path, "new,row\n")
    assert path.read_text() == "new,row\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]  # no temp file left behind


def test_a_new_secret_gets_the_mode_asked_for(tmp_path: Path) -> None:
    path = tmp_path / ".newsletter-secret"
    atomic_write(path, b"s3cret", mode=0o600)
    assert path.read_bytes() == b"s3cret" and path.stat().st_mode & 0o777 == 0o600


def test_exclusive_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("the old key")
    with pytest.raises(FileExistsError):
        atomic_write(path, "another key", exclusive=True)
    assert path.read_text() == "the old key"
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "failures.csv"
    path.write_text("kept\n")

    with pytest.raises(TypeError):
        atomic_write(path, 12345)  # type: ignore[arg-type]
    assert path.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir()] == ["failures.csv"]


def test_a_missing_folder_is_an_os_error_not_a_half_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "no-such-folder" / "x.csv", "a\n")
    assert list(tmp_path.iterdir()) == []
