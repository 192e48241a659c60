"""Writing files so that a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    # Read once, at import (single-threaded): reading it means setting it, which would race
    # with files other threads create.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Replace *path* with *data* (text is written as UTF-8) in one step: a temporary file in
    the same folder, then ``os.replace``. The file keeps its mode; a new one gets the mode
    ``open()`` would give it. Missing parent folders are created. *durable* flushes the data
    to disk before the rename (skip it for caches, which can be rebuilt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
