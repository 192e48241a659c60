"""tools.files.write_atomic: whole files or nothing, with the permissions a reader expects."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

import tools.files
from tools.files import write_atomic


def test_new_file_in_new_folders_gets_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.png"
    mask = os.umask(0o027)
    try:
        importlib.reload(tools.files)  # the module reads the umask once, at import
        tools.files.write_atomic(target, b"\x89PNG", durable=False)
    finally:
        os.umask(mask)
        importlib.reload(tools.files)
    assert target.read_bytes() == b"\x89PNG"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.png"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "cache.json"
    write_atomic(target, "old")

    class Unwritable(str):
        def encode(self, *args: object, **kwargs: object) -> bytes:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, Unwritable("new"))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]
