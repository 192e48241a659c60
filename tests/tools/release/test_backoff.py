"""The wait between push attempts: exponential, capped, and jittered over the whole range."""

from __future__ import annotations

import random

from tools.release.config import MAX_PUSH_BACKOFF
from tools.release.ship import backoff_delay


def test_backoff_doubles_up_to_the_cap_with_full_jitter() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(MAX_PUSH_BACKOFF, 0.5 * 2 ** (attempt - 1))
        draws = [backoff_delay(attempt, 0.5, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert min(draws) < ceiling / 4 and max(draws) > ceiling * 3 / 4  # the whole range
        assert len(set(draws)) == len(draws)  # no two jobs wait alike


def test_no_backoff_means_no_wait() -> None:
    assert backoff_delay(3, 0.0) == 0.0
