"""Serving test helpers: settings independent of the environment, request bodies, and real
server processes (``python -m tests.support.fake_server``) on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from service.settings import ServeSettings
from tests.support.fakes import FEATURES, ROW
from tests.support.net import free_port, wait_http
from tests.support.paths import REPO_ROOT


def settings(**overrides: Any) -> ServeSettings:
    """Settings independent of the caller's environment."""
    base: dict[str, Any] = {
        "model_uri": "models:/model-api@champion",
        "token_file": None,
        "otel_exporter_otlp_endpoint": None,
        "max_body_bytes": 1024 * 1024,
        # No prediction log unless a test asks for one (with a store in its tmp_path).
        "feedback_store": "off",
    }
    return ServeSettings(**{**base, **overrides})


def split_body(rows: int = 1, columns: tuple[str, ...] = FEATURES) -> dict[str, Any]:
    return {"dataframe_split": {"columns": list(columns), "data": [list(ROW)] * rows}}


def binary_request(
    rows: npt.NDArray[np.float64], **document: object
) -> tuple[bytes, dict[str, str]]:
    """A v2 infer body in the binary data extension (one FP64 input) and its headers."""
    raw = rows.astype("<f8").tobytes()
    tensor = {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64"}
    header = orjson.dumps(
        {"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}], **document}
    )
    headers = {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(header)),
    }
    return header + raw, headers


@dataclass
class Server:
    """A ``python -m tests.support.fake_server`` process on 127.0.0.1."""

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

    def kill(self) -> None:
        """Kill the process unless it has exited already, and reap it (cleanup after a test)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_server(
    tmp_path: Path, *, port: int | None = None, module: str = "tests.support.fake_server",
    args: tuple[str, ...] = (), env: dict[str, str] | None = None, wait: bool = True,
    ready_timeout: float = 60,
) -> Server:  # fmt: skip
    port = port or free_port()
    log = tmp_path / f"server-{port}-{os.urandom(3).hex()}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MODEL_API_", "OTEL_"))},
        "MODEL_API_HOST": "127.0.0.1",
        "MODEL_API_PORT": str(port),
        # The prediction log in the test's directory, never in the checkout.
        "MODEL_API_FEEDBACK_STORE": f"sqlite:///{tmp_path / 'feedback.sqlite'}",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=environment, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Server(process, port, log)
    if wait:
        try:
            wait_http(f"{server.url}/v2/health/ready", timeout=ready_timeout)
        except TimeoutError:
            server.kill()
            raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}") from None
    return server
