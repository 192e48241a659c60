"""Fixtures for the HTTP-layer tests: apps around the numpy predictor, and real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.support.fakes import LinearPredictor
from tests.support.serving import Server, settings, start_server


@pytest.fixture
def predictor() -> LinearPredictor:
    return LinearPredictor()


@pytest.fixture
def client(predictor: LinearPredictor) -> Iterator[TestClient]:
    with TestClient(create_app(settings(), predictor), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build clients with custom settings/predictors; all are closed at the end."""
    opened: list[TestClient] = []

    def make(predictor: LinearPredictor | None = None, **overrides: Any) -> TestClient:
        app = create_app(settings(**overrides), predictor or LinearPredictor())
        c = TestClient(app, raise_server_exceptions=False)
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start fake-predictor servers; any still running at the end are killed."""
    started: list[Server] = []

    def start(**kwargs: Any) -> Server:
        server = start_server(tmp_path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
