"""Computations handed to anyio's worker threads, counted so the server knows what it abandons.

Large predictions and large bodies' decoding run in worker threads with ``abandon_on_cancel``:
when the graceful-shutdown timeout cancels their request, the request ends without waiting.
The thread goes on computing, and the interpreter would wait for it at exit (anyio's workers are
not daemons). :func:`running` says how many such computations are still going, so that
``service.server`` leaves at once only when one is, and exits normally otherwise; counting
threads instead would also count idle pools of libraries such as MLflow's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")

_lock = threading.Lock()
_running = 0

# A call is queued for a worker, then started; or dropped when its request was cancelled before
# a worker took it (anyio then skips it, unless a worker was taking it at that very moment:
# ``counted`` then refuses to start). A started call is counted out when it ends, a dropped one
# when it is dropped.
_QUEUED, _STARTED, _DROPPED = range(3)


async def run(compute: Callable[[], T]) -> T:
    """``compute()`` in a worker thread; a cancelled request does not wait for it."""
    global _running
    state = [_QUEUED]

    def counted() -> T:
        global _running
        with _lock:
            if state[0] == _DROPPED:  # cancelled just as a worker took it: nobody waits
                raise RuntimeError("computation dropped")
            state[0] = _STARTED
        try:
            return compute()
        finally:
            with _lock:
                _running -= 1

    with _lock:
        _running += 1
    try:
        return await anyio.to_thread.run_sync(counted, abandon_on_cancel=True)
    finally:
        with _lock:
            if state[0] == _QUEUED:
                state[0] = _DROPPED
                _running -= 1


def running() -> int:
    """Computations started by :func:`run` that have not finished (or been dropped unstarted)."""
    return _running
