"""engine.files: a replaced file is the old one or the new one, never half, and never a stray temp."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.files import replace_file, replacing


def test_replace_file_writes_new_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "limits.json"
    target.write_bytes(b"old")
    replace_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["limits.json"]


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temp(tmp_path: Path) -> None:
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(target, durable=False) as f:
        f.write(b"half of the new")
        raise RuntimeError("disk full, say")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["cache.npz"]


def test_mode_sets_exact_permission_bits_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        replace_file(tmp_path / "master.csv", b"x", durable=False, mode=0o644)
    finally:
        os.umask(old)
    replace_file(tmp_path / "token", b"secret\n", durable=False, mode=0o600)
    assert stat.S_IMODE((tmp_path / "master.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600


def test_without_mode_the_umask_applies_as_for_open(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        replace_file(tmp_path / "status.json", b"{}", durable=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "status.json").stat().st_mode) == 0o640


def test_a_missing_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        replace_file(tmp_path / "nowhere" / "file", b"x")
