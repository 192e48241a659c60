"""Rego evaluation under a time and memory budget per object, in worker processes.

A policy can loop or allocate without bound (``count(numbers.range(1, 2e8))`` asks regorus for
4.8 GB at once and aborts the process with a Rust backtrace when it cannot have it). Neither
in-process engine offers a limit through its Python API (regorus' instruction and time limits
are not exposed by the build this project pins; rego-cpp has none), so the objects are
evaluated in child processes the run can afford to lose:

* each object has ``Budget.seconds`` of wall time; a worker that has not answered by then is
  killed and the object gets a ``policy-error`` finding;
* a worker whose resident memory passes ``Budget.memory_mib`` is killed the same way (checked
  every few milliseconds from /proc). With regorus the address space is also capped
  (``RLIMIT_AS``), so an allocation past the budget fails inside the engine at once; rego-cpp's
  allocator reserves 256 GiB of address space at start-up, so it is watched only;
* the worker's stderr goes to a file, so an engine's crash report never reaches the user;
  its first line becomes part of the finding.

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

from tools.validate.checks.policies import Evaluator, PolicyResult, PolicySet, make_evaluator
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


def _serve(
    conn: Connection, policies: PolicySet, engine: str, memory_mib: int, stderr: str
) -> None:
    """Worker: compile the policies, then evaluate each chunk of objects sent, one answer per
    object, until the pipe closes."""
    with open(stderr, "wb", buffering=0) as log:
        os.dup2(log.fileno(), 2)
    if engine == "regorus":
        cap = memory_mib * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    evaluator = make_evaluator(policies, engine)
    conn.send(None)  # ready
    while True:
        try:
            payload = conn.recv_bytes()
        except EOFError:
            return
        # A pickle comes from our own parent, over a private pipe.
        is_json = payload[:1] == b"J"
        objects = orjson.loads(payload[1:]) if is_json else pickle.loads(payload[1:])  # noqa: S301
        for obj in objects:
            conn.send(evaluator.evaluate(obj))


def _payload(objects: list[dict[str, Any]]) -> bytes:
    """A chunk as bytes: JSON when it carries the objects exactly (faster), else a pickle."""
    blob = exact_json(objects)
    return b"J" + blob if blob is not None else b"P" + pickle.dumps(objects)


class _Worker:
    def __init__(self, context: Any, policies: PolicySet, engine: str, budget: Budget) -> None:
        fd, self.stderr = tempfile.mkstemp(prefix="gitops-rego-", suffix=".log")
        os.close(fd)
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child, policies, engine, budget.memory_mib, self.stderr),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.ready = False
        self.chunk: list[int] = []  # indexes of the objects sent, in order
        self.done = 0  # how many of them have been answered
        self.deadline = time.monotonic() + STARTUP_SECONDS

    @property
    def current(self) -> int:
        """The object being evaluated."""
        return self.chunk[self.done]

    def send(self, chunk: list[int], objects: Sequence[dict[str, Any]], seconds: float) -> None:
        self.chunk, self.done = chunk, 0
        self.conn.send_bytes(_payload([objects[i] for i in chunk]))
        if self.ready:
            self.deadline = time.monotonic() + seconds

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
    Objects go to the workers in chunks and come back one answer at a time, so each object's
    time budget starts when the previous answer arrives.
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
        results: list[list[PolicyResult] | None] = [None] * len(objects)
        size = max(1, min(MAX_CHUNK, -(-len(objects) // (self.workers * CHUNKS_PER_WORKER))))
        pending = deque(range(len(objects)))
        busy: list[_Worker] = []
        try:
            while pending or busy:
                while pending and len(busy) < self.workers:
                    chunk = [pending.popleft() for _ in range(min(size, len(pending)))]
                    worker = self._worker()
                    try:
                        worker.send(chunk, objects, self.budget.seconds)
                    except (OSError, ValueError):  # a worker that died while idle
                        worker.stop(kill=True)
                        pending.extendleft(reversed(chunk))
                        continue
                    busy.append(worker)
                for ready in wait([w.conn for w in busy], timeout=POLL_SECONDS):
                    worker = next(w for w in busy if w.conn is ready)
                    if not self._receive(worker, results):
                        busy.remove(worker)
                        results[worker.current] = [self._died(worker)]
                        self._retire(worker, pending)
                    elif worker.done == len(worker.chunk):
                        busy.remove(worker)
                        self._idle.append(worker)
                for worker in list(busy):
                    problem = self._over_budget(worker)
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

    def _receive(self, worker: _Worker, results: list[list[PolicyResult] | None]) -> bool:
        """Take one message from *worker*; False if it died."""
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            return False
        if not worker.ready:  # the first message only says the policies are compiled
            worker.ready = True
        else:
            results[worker.current] = message
            worker.done += 1
        worker.deadline = time.monotonic() + self.budget.seconds
        return True

    def _retire(self, worker: _Worker, pending: deque[int]) -> None:
        """Kill *worker*; the objects of its chunk after the current one go back in line."""
        pending.extendleft(reversed(worker.chunk[worker.done + 1 :]))
        worker.stop(kill=True)

    def _over_budget(self, worker: _Worker) -> PolicyResult | None:
        if time.monotonic() > worker.deadline:
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
