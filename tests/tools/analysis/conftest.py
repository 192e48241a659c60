"""Fixtures for the analysis tests: a fake clock for the scheduler and one real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clock import FakeClock
from tools.rehearsal.prometheus import PrometheusServer


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
