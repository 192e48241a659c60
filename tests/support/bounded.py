"""Run hostile input in a child process that cannot take the machine down.

The child gets an address-space cap and a CPU-time cap (``resource.setrlimit`` in
``preexec_fn``) and is killed after a wall-clock timeout, so a regression (an exponential
regexp, an unbounded allocation) fails its test within seconds instead of hanging the suite or
swapping the machine. The resident memory of the child's whole session (it and everything it
starts) is also watched, and the session killed past the same cap: the one bound left for a
child that cannot live under an address-space cap (rego-cpp's allocator reserves 256 GiB of
address space when it loads; such a test passes ``address_space=False``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tests.support.paths import REPO_ROOT

MIB = 1024 * 1024
# ``gitops`` as the console script runs it, with this checkout first on the path.
GITOPS = (sys.executable, "-c", "import sys; from tools.cli import main; sys.exit(main())")


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool

    def __str__(self) -> str:
        state = "timed out" if self.timed_out else f"exit {self.returncode}"
        return f"{state}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


def limits(memory_mib: int | None, cpu_seconds: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps the child's address space (unless None) and CPU time."""

    def apply() -> None:
        if memory_mib is not None:
            cap = memory_mib * MIB
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))

    return apply


def session_rss_mib(session: int) -> float:
    """Resident memory of every process in *session* (from Linux /proc; 0 elsewhere)."""
    if not os.path.isdir("/proc"):
        return 0.0
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) == session:  # stat field 6: the session id
                total += int(fields[21]) * page  # stat field 24: resident pages
        except (OSError, ValueError, IndexError):
            continue
    return total / MIB


def run_bounded(
    argv: Sequence[str],
    *,
    timeout: float = 60.0,
    memory_mib: int = 1024,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    address_space: bool = True,
) -> Outcome:
    """Run ``argv`` with the repository on PYTHONPATH, under memory, CPU and time limits.

    The child and everything it starts are killed when the time is up or their resident
    memory passes *memory_mib*; with *address_space* the child's address space is capped too.
    """
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    child_env.update(env or {})
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
        cwd=cwd,
        preexec_fn=limits(memory_mib if address_space else None, int(timeout) + 1),
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    timed_out = False
    with contextlib.ExitStack() as cleanup:
        # Whatever happens, nothing of the session outlives the test.
        cleanup.callback(_kill_session, process.pid)
        out: list[str] = []
        err: list[str] = []
        readers = _drain(process, out, err)
        while process.poll() is None:
            timed_out = time.monotonic() > deadline
            if timed_out or session_rss_mib(process.pid) > memory_mib:
                _kill_session(process.pid)
                break
            time.sleep(0.05)
        process.wait()
        for reader in readers:
            reader.join(10)
    return Outcome(process.returncode, "".join(out), "".join(err), timed_out=timed_out)


def _drain(
    process: subprocess.Popen[str], out: list[str], err: list[str]
) -> list[threading.Thread]:
    """Read the child's output in threads, so a full pipe never blocks it."""
    threads = []
    for stream, sink in ((process.stdout, out), (process.stderr, err)):
        assert stream is not None
        thread = threading.Thread(target=lambda s=stream, k=sink: k.append(s.read()), daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _kill_session(session: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(session, signal.SIGKILL)


def run_python(code: str, **kwargs: object) -> Outcome:
    """``run_bounded`` for a snippet of Python run by the interpreter running the tests."""
    return run_bounded([sys.executable, "-c", code], **kwargs)  # type: ignore[arg-type]


def run_gitops(
    *args: str,
    cwd: str | os.PathLike[str],
    timeout: float = 120.0,
    memory_mib: int = 3072,
    env: Mapping[str, str] | None = None,
    address_space: bool = True,
) -> Outcome:
    """``gitops ARGS`` in *cwd*, bounded like :func:`run_bounded`."""
    return run_bounded(
        [*GITOPS, *args],
        cwd=cwd,
        timeout=timeout,
        memory_mib=memory_mib,
        env=env,
        address_space=address_space,
    )
