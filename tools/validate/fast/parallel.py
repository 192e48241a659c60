"""Work spread over processes: policy evaluation (the Rego engines hold the GIL) and YAML parsing.

Workers are forked where the platform allows it: they inherit the compiled policy bundle, the
policy-result cache and the objects to evaluate instead of receiving them through a pipe, so
only file names, index ranges and results cross process boundaries. Elsewhere (spawn) the same
functions work, with the state sent to each worker once.

For manifest files, :func:`parse_and_evaluate` parses a chunk of files and evaluates the
policies on its objects in the same worker: one pool, no second trip of every object through a
pipe, and parsing of one chunk overlaps policy evaluation of another.
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
from tools.validate.checks.policies import Evaluator, PolicyResult, PolicySet, make_evaluator
from tools.validate.fast.policycache import PolicyCache
from tools.validate.loader import Parsed

CHUNKS_PER_WORKER = 4  # small enough to balance uneven chunks, large enough to keep IPC rare


@dataclass
class _State:
    """What a worker needs; inherited through fork, or sent once to a spawned worker."""

    policies: PolicySet | None = None
    evaluator: Evaluator | None = None
    engine: str = "auto"  # the evaluator's engine, compiled anew by a spawned worker
    cache: PolicyCache | None = None
    objects: list[dict[str, Any]] | None = None


_state = _State()


def _init(state: _State) -> None:
    global _state
    if state.evaluator is None and state.policies is not None:
        state.evaluator = make_evaluator(state.policies, state.engine)  # spawned: compile here
    _state = state


def _context() -> tuple[Any, bool]:
    forked = "fork" in multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if forked else "spawn"), forked


def _pool(workers: int, state: _State) -> ProcessPoolExecutor:
    context, forked = _context()
    if forked:
        global _state
        _state = state  # the children get it with the rest of the parent's memory
        return ProcessPoolExecutor(max_workers=workers, mp_context=context)
    spawned = _State(state.policies, None, state.engine, state.cache, state.objects)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init, initargs=(spawned,)
    )


def _chunks(count: int, workers: int) -> list[tuple[int, int]]:
    size = max(1, -(-count // (workers * CHUNKS_PER_WORKER)))
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def _evaluate_range(bounds: tuple[int, int]) -> list[list[PolicyResult]]:
    assert _state.evaluator is not None and _state.objects is not None
    evaluate = _state.evaluator.evaluate
    return [evaluate(obj) for obj in _state.objects[bounds[0] : bounds[1]]]


def evaluate(
    evaluator: Evaluator, objects: list[dict[str, Any]], workers: int
) -> list[list[PolicyResult]]:
    """Results per object, in order, computed by *workers* processes."""
    state = _State(evaluator.policies, evaluator, evaluator.engine, None, objects)
    out: list[list[PolicyResult]] = []
    try:
        with _pool(workers, state) as pool:
            for chunk_results in pool.map(_evaluate_range, _chunks(len(objects), workers)):
                out.extend(chunk_results)
    except BrokenProcessPool as exc:
        raise UserError(
            "a policy worker process died (the Rego engine crashed while evaluating the policies)",
            hint="run with a smaller input to find the object, or use --opa-url",
        ) from exc
    finally:
        _reset()
    return out


def _reset() -> None:
    global _state
    _state = _State()


@dataclass
class Evaluated:
    """Policy results of one parsed object; *key* is set when they are new to the cache."""

    results: list[PolicyResult]
    key: str | None


@dataclass
class _Packed:
    """A chunk of parse results as it crosses the process boundary.

    The objects travel as one JSON document, which orjson reads several times faster than
    pickle rebuilds the same dicts; the rest is pickled. ``blob`` is None when JSON cannot
    carry the objects exactly (non-string keys, non-finite floats, integers over 64 bits,
    binary values): then ``parsed`` keeps them.
    """

    parsed: list[Parsed]
    evaluated: list[list[Evaluated] | None]
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


def _pack(parsed: list[Parsed], evaluated: list[list[Evaluated] | None]) -> _Packed:
    resources = [r for p in parsed for r in p.resources]
    blob = exact_json([r.obj for r in resources])
    if blob is not None:
        for resource in resources:
            resource.obj = _MOVED
    return _Packed(parsed, evaluated, blob)


def _unpack(packed: _Packed) -> list[tuple[Parsed, list[Evaluated] | None]]:
    if packed.blob is not None:
        objects = iter(orjson.loads(packed.blob))
        for parsed in packed.parsed:
            for resource in parsed.resources:
                resource.obj = next(objects)
    return list(zip(packed.parsed, packed.evaluated, strict=True))


def _parse_range(files: list[tuple[str, str]]) -> _Packed:
    evaluator, cache = _state.evaluator, _state.cache
    parsed_files: list[Parsed] = []
    evaluated_files: list[list[Evaluated] | None] = []
    for path, shown in files:
        parsed = loader.parse_file(Path(path), shown)
        parsed_files.append(parsed)
        if evaluator is None:
            evaluated_files.append(None)
            continue
        evaluated: list[Evaluated] = []
        for resource in parsed.resources:
            if cache is None:
                evaluated.append(Evaluated(evaluator.evaluate(resource.obj), None))
                continue
            key = cache.key(resource.obj)
            known = cache.get(key)
            if known is not None:
                evaluated.append(Evaluated(known, None))
            else:
                evaluated.append(Evaluated(evaluator.evaluate(resource.obj), key))
        evaluated_files.append(evaluated)
    return _pack(parsed_files, evaluated_files)


def parse_and_evaluate(
    files: list[tuple[str, str]],
    workers: int,
    evaluator: Evaluator | None = None,
    cache: PolicyCache | None = None,
) -> list[tuple[Parsed, list[Evaluated] | None]]:
    """``loader.parse_file`` for many (path, shown) pairs, in order, on *workers* processes.

    With an *evaluator*, each file's objects are also evaluated against the policies (results
    from *cache* where it has them); without, the second element of each pair is None.
    """
    state = _State(
        evaluator.policies if evaluator else None,
        evaluator,
        evaluator.engine if evaluator else "auto",
        cache,
        None,
    )
    out: list[tuple[Parsed, list[Evaluated] | None]] = []
    try:
        with _pool(workers, state) as pool:
            chunks = [files[a:b] for a, b in _chunks(len(files), workers)]
            for packed in pool.map(_parse_range, chunks):
                out.extend(_unpack(packed))
    except BrokenProcessPool as exc:
        if evaluator is None:
            raise UserError("a parser worker process died (out of memory?)") from exc
        raise UserError(
            "a parser/policy worker process died (out of memory, or the Rego engine crashed)",
            hint="run with a smaller input to find the file, or use --opa-url",
        ) from exc
    finally:
        _reset()
    return out


def parse_files(files: list[tuple[str, str]], workers: int) -> list[Parsed]:
    """``loader.parse_file`` for many (path, shown) pairs, in order, on *workers* processes."""
    return [parsed for parsed, _ in parse_and_evaluate(files, workers)]
