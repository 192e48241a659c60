"""``gitops`` in a bounded child process (tests/support/bounded.py), as its console script runs."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.bounded import Outcome, run_bounded

GITOPS = [sys.executable, "-c", "import sys; from tools.cli import main; sys.exit(main())"]


def run_gitops(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    memory_mib: int = 1024,
) -> Outcome:
    """Run ``gitops ARGS`` under an address-space cap, a CPU cap and a wall-clock timeout."""
    return run_bounded([*GITOPS, *args], cwd=cwd, env=env, timeout=timeout, memory_mib=memory_mib)


def failed_cleanly(done: Outcome) -> str:
    """stderr of a run that ended with exit 2 and a message (no traceback, no timeout)."""
    assert not done.timed_out, str(done)
    assert done.returncode == 2, str(done)
    assert "Traceback" not in done.stderr + done.stdout, str(done)
    assert done.stderr.startswith("gitops "), str(done)
    return done.stderr
