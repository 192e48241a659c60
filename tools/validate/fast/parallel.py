"""YAML parsing spread over processes (policy evaluation has its own budgeted workers in
checks/sandbox.py).

Workers are forked where the platform allows it (they get nothing but file names), spawned
elsewhere; parsed objects come back as one JSON document per chunk (see :class:`_Packed`). A
large file is read in pieces of whole documents (:func:`tools.validate.loader.pieces`), spread
over the workers like small files and put back together here (:func:`tools.validate.loader.join`).
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
SPLIT_BYTES = 128 * 1024  # a manifest file larger than this is read in pieces ...
PIECE_CHARS = 32 * 1024  # ... of whole documents, about this long (~30 objects)


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


def exact_json(value: Any) -> bytes | None:
    """*value* as JSON, or None when JSON cannot carry it exactly (see :class:`_Packed`)."""
    try:
        blob = orjson.dumps(value)
    except TypeError:
        return None
    if b"null" in blob and _has_non_finite(value):  # orjson writes NaN and inf as null
        return None
    return blob


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
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


@dataclass(frozen=True)
class _Unit:
    """Work for a worker: a file (*text* None: read it there) or a piece of one."""

    file: int  # index in the caller's list of files
    path: str
    shown: str
    text: str | None = None
    first_line: int = 1


def work_units(files: list[tuple[str, str]]) -> tuple[list[_Unit], dict[int, str]]:
    """The work units of *files*, and the text of each file read in pieces (by file index)."""
    units: list[_Unit] = []
    texts: dict[int, str] = {}
    for index, (path, shown) in enumerate(files):
        try:
            large = not path.endswith(".json") and Path(path).stat().st_size > SPLIT_BYTES
        except OSError:
            large = False  # the worker reports why it cannot be read
        text = loader.read_text(Path(path), shown)[0] if large else None
        if text is None:
            units.append(_Unit(index, path, shown))
            continue
        split = loader.pieces(text, PIECE_CHARS)
        if len(split) < 2:
            units.append(_Unit(index, path, shown))
            continue
        texts[index] = text
        units.extend(_Unit(index, path, shown, piece, line) for line, piece in split)
    return units, texts


def _parse_range(units: list[_Unit]) -> _Packed:
    parsed: list[Parsed] = []
    for unit in units:
        if unit.text is None:
            parsed.append(loader.parse_file(Path(unit.path), unit.shown))
        else:
            parsed.append(
                loader.parse_text(unit.text, unit.shown, marks=True, first_line=unit.first_line)
            )
    return _pack(parsed)


def parse_files(files: list[tuple[str, str]], workers: int) -> list[Parsed]:
    """``loader.parse_file`` for many (path, shown) pairs, in order, on *workers* processes."""
    units, texts = work_units(files)
    results: list[Parsed] = []
    try:
        with _pool(workers) as pool:
            chunks = [units[a:b] for a, b in _chunks(len(units), workers)]
            for packed in pool.map(_parse_range, chunks):
                results.extend(_unpack(packed))
    except BrokenProcessPool as exc:
        raise UserError("a parser worker process died (out of memory?)") from exc
    out: list[Parsed] = []
    start = 0
    while start < len(units):
        index = units[start].file
        stop = start + 1
        while stop < len(units) and units[stop].file == index:
            stop += 1
        if stop - start == 1:
            out.append(results[start])
        else:  # the pieces of one file; read again here, whole, if they cannot say the same
            joined = loader.join(results[start:stop])
            if joined is None:
                joined = loader.parse_text(texts[index], units[start].shown, marks=True)
            out.append(joined)
        start = stop
    return out
