"""YAML parsing spread over processes (policy evaluation has its own budgeted workers in
checks/sandbox.py).

Workers are forked where the platform allows it (they get nothing but file names), spawned
elsewhere; parsed objects come back as one JSON document per chunk (see :class:`_Packed`).
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tools.errors import UserError
from tools.validate import loader
from tools.validate.loader import Parsed

CHUNKS_PER_WORKER = 4  # small enough to balance uneven chunks, large enough to keep IPC rare


def _pool(workers: int) -> ProcessPoolExecutor:
    forked = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forked else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _chunks(count: int, workers: int) -> list[tuple[int, int]]:
    size = max(1, -(-count // (workers * CHUNKS_PER_WORKER)))
    return [(start, min(start + size, count)) for start in range(0, count, size)]


@dataclass
class _Packed:
    """A chunk of parse results as it crosses the process boundary.

    The objects travel as one JSON document, which orjson reads several times faster than
    pickle rebuilds the same dicts; the rest is pickled. ``blob`` is None when JSON cannot
    carry the objects exactly (non-string keys, non-finite floats, integers over 64 bits,
    binary values): then ``parsed`` keeps them.
    """

    parsed: list[Parsed]
    blob: bytes | None


_MOVED: dict[str, Any] = {}  # stands in for objects that travel in the blob


def exact_json(objects: list[dict[str, Any]]) -> bytes | None:
    try:
        blob = orjson.dumps(objects)
    except TypeError:
        return None
    if b"null" in blob and _has_non_finite(objects):  # orjson writes NaN and inf as null
        return None
    return blob


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _pack(parsed: list[Parsed]) -> _Packed:
    resources = [r for p in parsed for r in p.resources]
    blob = exact_json([r.obj for r in resources])
    if blob is not None:
        for resource in resources:
            resource.obj = _MOVED
    return _Packed(parsed, blob)


def _unpack(packed: _Packed) -> list[Parsed]:
    if packed.blob is not None:
        objects = iter(orjson.loads(packed.blob))
        for parsed in packed.parsed:
            for resource in parsed.resources:
                resource.obj = next(objects)
    return packed.parsed


def _parse_range(files: list[tuple[str, str]]) -> _Packed:
    return _pack([loader.parse_file(Path(path), shown) for path, shown in files])


def parse_files(files: list[tuple[str, str]], workers: int) -> list[Parsed]:
    """``loader.parse_file`` for many (path, shown) pairs, in order, on *workers* processes."""
    out: list[Parsed] = []
    try:
        with _pool(workers) as pool:
            chunks = [files[a:b] for a, b in _chunks(len(files), workers)]
            for packed in pool.map(_parse_range, chunks):
                out.extend(_unpack(packed))
    except BrokenProcessPool as exc:
        raise UserError("a parser worker process died (out of memory?)") from exc
    return out
