"""Work spread over processes: policy evaluation (regopy holds the GIL) and YAML parsing."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from tools.errors import UserError
from tools.validate import loader
from tools.validate.loader import Parsed
from tools.validate.policies import PolicyResult, PolicySet, RegoEvaluator

_evaluator: RegoEvaluator | None = None


def _init(policies: PolicySet) -> None:
    global _evaluator
    _evaluator = RegoEvaluator(policies)


def _evaluate_chunk(objects: list[dict[str, Any]]) -> list[list[PolicyResult]]:
    assert _evaluator is not None
    return [_evaluator.evaluate(obj) for obj in objects]


def evaluate(
    policies: PolicySet, objects: list[dict[str, Any]], workers: int
) -> list[list[PolicyResult]]:
    """Results per object, in order, computed by *workers* processes."""
    size = max(1, -(-len(objects) // (workers * 4)))
    chunks = [objects[i : i + size] for i in range(0, len(objects), size)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    out: list[list[PolicyResult]] = []
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init, initargs=(policies,)
        ) as pool:
            for chunk_results in pool.map(_evaluate_chunk, chunks):
                out.extend(chunk_results)
    except BrokenProcessPool as exc:
        raise UserError(
            "a policy worker process died (regopy crashed while evaluating the policies)",
            hint="run with a smaller input to find the object, or use --opa-url",
        ) from exc
    return out


def _parse_chunk(files: list[tuple[str, str]]) -> list[Parsed]:
    return [loader.parse_file(Path(path), shown) for path, shown in files]


def parse_files(files: list[tuple[str, str]], workers: int) -> list[Parsed]:
    """``loader.parse_file`` for many (path, shown) pairs, in order, on *workers* processes."""
    size = max(1, -(-len(files) // (workers * 4)))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    out: list[Parsed] = []
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context(method)
        ) as pool:
            for parsed in pool.map(_parse_chunk, chunks):
                out.extend(parsed)
    except BrokenProcessPool as exc:
        raise UserError("a parser worker process died (out of memory?)") from exc
    return out
