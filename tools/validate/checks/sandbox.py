"""Rego evaluation under a time and memory budget per object, in worker processes.

A policy can loop or allocate without bound (``count(numbers.range(1, 2e8))`` asks regorus for
4.8 GB at once and aborts the process with a Rust backtrace when it cannot have it). Neither
in-process engine offers a limit through its Python API (regorus' instruction and time limits
are not exposed by the build this project pins; rego-cpp has none), so the objects are
evaluated in child processes the run can afford to lose:

* each object has ``Budget.seconds`` of wall time; a worker that has not finished it by then is
  killed and the object gets a ``policy-error`` finding;
* a worker whose resident memory passes ``Budget.memory_mib`` is killed the same way (checked
  every few milliseconds from /proc). With regorus the address space is also capped
  (``RLIMIT_AS``), so an allocation past the budget fails inside the engine at once; rego-cpp's
  allocator reserves 256 GiB of address space at start-up, so it is watched only;
* the worker's stderr goes to a file, so an engine's crash report never reaches the user;
  its first line becomes part of the finding.

Objects travel in chunks and a chunk's results come back as one message. While it works, a
worker writes the position of the object it is on into a shared counter: the parent reads it
every few milliseconds to start that object's time budget, and, when the worker dies or is
killed, to blame exactly that object. The chunk's other objects go back in line (the ones before
it are evaluated again: their results died with the worker).

Workers come from a fork server (``multiprocessing`` "forkserver"): children of a process that
has no threads, whatever the validation run is doing, and each compiles the policy set once.
A killed worker is replaced and the remaining objects go on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import resource
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import orjson

from tools.validate.checks.policies import (
    Evaluator,
    PolicyResult,
    PolicySet,
    make_evaluator,
    resolve_engine,
)
from tools.validate.fast.parallel import exact_json

POLL_SECONDS = 0.02  # how often a busy worker's memory is looked at
STARTUP_SECONDS = 30.0  # for a worker to start and compile the policies (milliseconds usually)
CHUNKS_PER_WORKER = 4  # objects travel in chunks: fewer messages, still balanced
MAX_CHUNK = 256
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Budget:
    """What one object's evaluation may take."""

    seconds: float = 10.0
    memory_mib: int = 1024


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        # Imported once by the fork server, so each worker starts in milliseconds.
        context.set_forkserver_preload(["tools.validate.checks.policies", "orjson"])
    return context


def start_fork_server() -> None:
    """Start the fork server now: it imports the policy modules while the run goes on, so the
    first workers start in milliseconds when they are needed."""
    if _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _serve(
    conn: Connection, progress: Any, policies: PolicySet, engine: str, memory_mib: int, stderr: str
) -> None:
    """Worker: compile the policies, then evaluate each chunk of objects sent and answer with
    the chunk's results, until the pipe closes. *progress* holds the position in the chunk of
    the object being evaluated."""
    with open(stderr, "wb", buffering=0) as log:
        os.dup2(log.fileno(), 2)
    if resolve_engine(engine) == "regorus":
        cap = memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    evaluator = make_evaluator(policies, engine)
    conn.send_bytes(b"R")  # ready: the policies are compiled
    while True:
        try:
            payload = conn.recv_bytes()
        except EOFError:
            return
        answers = []
        for position, obj in enumerate(_objects(payload)):
            progress.value = position
            answers.append(evaluator.evaluate(obj))
        conn.send_bytes(_encode_results(answers))


def encode_objects(objects: Sequence[dict[str, Any]]) -> list[bytes]:
    """Each object as it will travel: JSON (b"J...") when that carries it exactly (faster),
    else a pickle (b"P...")."""
    out = []
    for obj in objects:
        blob = exact_json(obj)
        out.append(b"J" + blob if blob is not None else b"P" + pickle.dumps(obj))
    return out


def _payload(encoded: list[bytes]) -> bytes:
    """A chunk of encoded objects as one message: one JSON array when every object is JSON."""
    if all(item[:1] == b"J" for item in encoded):
        return b"J[" + b",".join(item[1:] for item in encoded) + b"]"
    return b"M" + pickle.dumps(encoded)


def _objects(payload: bytes) -> list[Any]:
    # A pickle comes from our own parent, over a private pipe.
    if payload[:1] == b"J":
        objects: list[Any] = orjson.loads(payload[1:])
        return objects
    items: list[bytes] = pickle.loads(payload[1:])  # noqa: S301
    return [
        orjson.loads(item[1:]) if item[:1] == b"J" else pickle.loads(item[1:])  # noqa: S301
        for item in items
    ]


def _encode_results(answers: list[list[PolicyResult]]) -> bytes:
    rows = [
        [(r.rule, r.severity, r.message, r.path, r.details) for r in found] for found in answers
    ]
    blob = exact_json(rows)
    return b"J" + blob if blob is not None else b"P" + pickle.dumps(answers)


def _decode_results(message: bytes) -> list[list[PolicyResult]]:
    if message[:1] == b"J":
        return [[PolicyResult(*row) for row in found] for found in orjson.loads(message[1:])]
    answers: list[list[PolicyResult]] = pickle.loads(message[1:])  # noqa: S301
    return answers


class _Worker:
    def __init__(self, context: Any, policies: PolicySet, engine: str, budget: Budget) -> None:
        fd, self.stderr = tempfile.mkstemp(prefix="gitops-rego-", suffix=".log")
        os.close(fd)
        self.conn, child = context.Pipe()
        self.progress = context.RawValue("q", -1)
        self.process = context.Process(
            target=_serve,
            args=(child, self.progress, policies, engine, budget.memory_mib, self.stderr),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False
        self.chunk: list[int] = []  # indexes of the objects sent, in order
        self.seen = -1  # the position the parent last saw the worker at
        self.deadline = time.monotonic() + STARTUP_SECONDS

    @property
    def current(self) -> int:
        """The object being evaluated (the first of the chunk before the worker starts it)."""
        position = self.progress.value
        return self.chunk[position if 0 <= position < len(self.chunk) else 0]

    def send(self, chunk: list[int], encoded: list[bytes], seconds: float) -> None:
        self.chunk, self.seen = chunk, -1
        self.progress.value = -1
        self.conn.send_bytes(_payload([encoded[i] for i in chunk]))
        if self.ready:
            self.deadline = time.monotonic() + seconds

    def watch(self, now: float, seconds: float) -> None:
        """Start the time budget of the object the worker has moved on to, if it has."""
        position = self.progress.value
        if self.ready and position != self.seen:
            self.seen = position
            self.deadline = now + seconds

    def resident_mib(self) -> float:
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE / 1048576
        except (OSError, ValueError, IndexError):
            return 0.0

    def crash_note(self) -> str:
        try:
            with open(self.stderr, encoding="utf-8", errors="replace") as log:
                for line in log:
                    if line.strip() and "backtrace" not in line:
                        return line.strip()[:200]
        except OSError:
            pass
        return ""

    def stop(self, kill: bool = False) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if kill:
            self.process.kill()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        with contextlib.suppress(OSError):
            os.unlink(self.stderr)


class SandboxedEvaluator:
    """The :class:`Evaluator` protocol, with every object evaluated by a budgeted worker.

    *inner* is the policy set compiled in this process (so a policy that does not compile is
    still a usage error, raised before anything is evaluated); the workers compile their own.
    Objects go to the workers in chunks and come back one chunk at a time; each object's time
    budget starts when the worker reaches it (see the module docstring).
    """

    def __init__(self, inner: Evaluator, budget: Budget, workers: int = 1) -> None:
        self.inner = inner
        self.policies = inner.policies
        self.engine = inner.engine
        self.engine_id = inner.engine_id
        self.budget = budget
        self.workers = max(1, workers)
        self._context: Any = None
        self._idle: list[_Worker] = []

    def evaluate(self, obj: dict[str, Any]) -> list[PolicyResult]:
        return self.evaluate_all([obj])[0]

    def evaluate_all(self, objects: Sequence[dict[str, Any]]) -> list[list[PolicyResult]]:
        """Results per object, in order; an object over budget gets one ``policy-error``."""
        if self.policies.empty or not objects:
            return [[] for _ in objects]
        return self.evaluate_encoded(encode_objects(objects))

    def evaluate_encoded(self, encoded: list[bytes]) -> list[list[PolicyResult]]:
        """:meth:`evaluate_all` of objects already encoded by :func:`encode_objects` (a copy
        taken once: the caller may go on with the objects meanwhile)."""
        if self.policies.empty or not encoded:
            return [[] for _ in encoded]
        results: list[list[PolicyResult] | None] = [None] * len(encoded)
        size = max(1, min(MAX_CHUNK, -(-len(encoded) // (self.workers * CHUNKS_PER_WORKER))))
        pending = deque(range(len(encoded)))
        busy: list[_Worker] = []
        watched = time.monotonic()
        try:
            while pending or busy:
                while pending and len(busy) < self.workers:
                    chunk = [pending.popleft() for _ in range(min(size, len(pending)))]
                    worker = self._worker()
                    try:
                        worker.send(chunk, encoded, self.budget.seconds)
                    except (OSError, ValueError):  # a worker that died while idle
                        worker.stop(kill=True)
                        pending.extendleft(reversed(chunk))
                        continue
                    busy.append(worker)
                for ready in wait([w.conn for w in busy], timeout=POLL_SECONDS):
                    worker = next(w for w in busy if w.conn is ready)
                    answered = self._receive(worker, results)
                    if answered is None:
                        busy.remove(worker)
                        results[worker.current] = [self._died(worker)]
                        self._retire(worker, pending)
                    elif answered:
                        busy.remove(worker)
                        self._idle.append(worker)
                now = time.monotonic()
                if now - watched < POLL_SECONDS:
                    continue
                watched = now
                for worker in list(busy):
                    worker.watch(now, self.budget.seconds)
                    problem = self._over_budget(worker, now)
                    if problem is not None:
                        busy.remove(worker)
                        results[worker.current] = [problem]
                        self._retire(worker, pending)
        finally:
            for worker in busy:
                worker.stop(kill=True)
        return [found or [] for found in results]

    def close(self) -> None:
        for worker in self._idle:
            worker.stop()
        self._idle = []

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- workers --------------------------------------------------------------------------
    def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        if self._context is None:
            self._context = _context()
        return _Worker(self._context, self.policies, self.engine, self.budget)

    def _receive(self, worker: _Worker, results: list[list[PolicyResult] | None]) -> bool | None:
        """Take one message from *worker*: True when it answered its chunk, False when it only
        said it is ready, None if it died."""
        try:
            message = worker.conn.recv_bytes()
        except (EOFError, OSError):
            return None
        if not worker.ready:  # the first message only says the policies are compiled
            worker.ready = True
            worker.deadline = time.monotonic() + self.budget.seconds
            return False
        try:
            answers = _decode_results(message)
        except (ValueError, TypeError, pickle.UnpicklingError, EOFError):
            return None
        if len(answers) != len(worker.chunk):
            return None
        for index, found in zip(worker.chunk, answers, strict=True):
            results[index] = found
        return True

    def _retire(self, worker: _Worker, pending: deque[int]) -> None:
        """Kill *worker*; the objects of its chunk other than the current one go back in line
        (those before it were evaluated, but their results were not sent)."""
        current = worker.current
        pending.extendleft(reversed([i for i in worker.chunk if i != current]))
        worker.stop(kill=True)

    def _over_budget(self, worker: _Worker, now: float) -> PolicyResult | None:
        if now > worker.deadline:
            if not worker.ready:
                return _error(f"the Rego worker did not start within {STARTUP_SECONDS:g}s")
            return _error(
                f"policy evaluation stopped after {self.budget.seconds:g}s "
                "(the time budget for one object)"
            )
        used = worker.resident_mib()
        if used > self.budget.memory_mib:
            return _error(
                f"policy evaluation stopped at {used:.0f} MiB "
                f"(the memory budget for one object is {self.budget.memory_mib} MiB)"
            )
        return None

    def _died(self, worker: _Worker) -> PolicyResult:
        worker.process.join(1)
        note = worker.crash_note()
        return _error(
            "the Rego engine stopped while evaluating this object"
            + (f": {note}" if note else "")
            + f" (memory budget {self.budget.memory_mib} MiB, time budget "
            f"{self.budget.seconds:g}s)"
        )


def _error(message: str) -> PolicyResult:
    return PolicyResult("policy-error", "error", message)
