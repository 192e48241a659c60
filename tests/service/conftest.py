"""Fixtures for the HTTP-layer tests: apps around the numpy predictor, and real servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import ServeSettings
from tests.service.fakes import FEATURES, ROW, LinearPredictor
from tests.support.net import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]


def settings(**overrides: Any) -> ServeSettings:
    """Settings independent of the caller's environment."""
    base: dict[str, Any] = {
        "model_uri": "models:/model-api@champion",
        "token_file": None,
        "otel_exporter_otlp_endpoint": None,
        "max_body_bytes": 1024 * 1024,
    }
    return ServeSettings(**{**base, **overrides})


def split_body(rows: int = 1, columns: tuple[str, ...] = FEATURES) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(columns), "data": [list(ROW)] * rows}}


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


@dataclass
class Server:
    """A ``python -m tests.service.fake_server`` process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)


def start_server(
    tmp_path: Path, *, port: int | None = None, module: str = "tests.service.fake_server",
    args: tuple[str, ...] = (), env: dict[str, str] | None = None, wait: bool = True,
    ready_timeout: float = 60,
) -> Server:  # fmt: skip
    port = port or free_port()
    log = tmp_path / f"server-{port}-{os.urandom(3).hex()}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MODEL_API_", "OTEL_"))},
        "MODEL_API_HOST": "127.0.0.1",
        "MODEL_API_PORT": str(port),
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, env=environment, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(process, port, log)
    if wait:
        try:
            wait_http(f"{server.url}/v2/health/ready", timeout=ready_timeout)
        except TimeoutError:
            process.kill()
            process.wait()
            raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}") from None
    return server


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
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
