"""Worker-thread computations are counted until they end, even when their request gave up."""

from __future__ import annotations

import asyncio
import threading

from service import offload

TIMEOUT = 10.0  # every wait is bounded: a deadlock fails instead of hanging the run


def test_a_computation_counts_while_it_runs_and_after_its_request_is_cancelled() -> None:
    started, release = threading.Event(), threading.Event()

    def compute() -> int:
        started.set()
        assert release.wait(TIMEOUT)
        return 42

    async def scenario() -> None:
        before = offload.running()
        assert await offload.run(lambda: 7) == 7
        assert offload.running() == before

        task = asyncio.ensure_future(offload.run(compute))
        assert await asyncio.to_thread(started.wait, TIMEOUT)
        assert offload.running() == before + 1
        task.cancel()  # the graceful timeout gives up on the request...
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        assert offload.running() == before + 1  # ...but the thread still computes
        release.set()
        for _ in range(1000):
            if offload.running() == before:
                break
            await asyncio.sleep(0.01)
        assert offload.running() == before

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))


def test_a_failing_computation_is_counted_out_and_raises() -> None:
    def compute() -> None:
        raise ValueError("bad body")

    async def scenario() -> None:
        before = offload.running()
        try:
            await offload.run(compute)
        except ValueError as exc:
            assert str(exc) == "bad body"
        else:
            raise AssertionError("the error was lost")
        assert offload.running() == before

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT))
