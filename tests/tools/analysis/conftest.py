"""Fixtures for the analysis tests: a fake clock for the scheduler and one real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tools.rehearsal.prometheus import PrometheusServer


class FakeClock:
    """A clock whose sleep advances time instantly (records every sleep)."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, tzinfo=UTC)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def prometheus() -> Iterator[PrometheusServer]:
    """A real Prometheus without targets: constant PromQL gives every result shape."""
    server = PrometheusServer().start()
    try:
        yield server
    finally:
        server.stop()
