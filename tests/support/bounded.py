"""Run hostile input in a child process that cannot take the machine down.

The child gets an address-space cap and a CPU-time cap (``resource.setrlimit`` in
``preexec_fn``) and is killed after a wall-clock timeout, so a regression (an exponential
regexp, an unbounded allocation) fails its test within seconds instead of hanging the suite or
swapping the machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tests.support.paths import REPO_ROOT

MIB = 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    def __str__(self) -> str:
        state = "timed out" if self.timed_out else f"exit {self.returncode}"
        return f"{state}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


def limits(memory_mib: int, cpu_seconds: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps the child's address space and CPU time."""

    def apply() -> None:
        cap = memory_mib * MIB
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))

    return apply


def run_bounded(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    memory_mib: int = 1024,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdin: str | None = None,
) -> Outcome:
    """Run ``argv`` with the repository on PYTHONPATH, under memory, CPU and time limits."""
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    child_env.update(env or {})
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env,
            cwd=cwd,
            preexec_fn=limits(memory_mib, int(timeout) + 1),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Outcome(-9, _text(exc.stdout), _text(exc.stderr), timed_out=True)
    return Outcome(done.returncode, done.stdout, done.stderr, timed_out=False)


def run_python(code: str, **kwargs: object) -> Outcome:
    """``run_bounded`` for a snippet of Python run by the interpreter running the tests."""
    return run_bounded([sys.executable, "-c", code], **kwargs)  # type: ignore[arg-type]


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
