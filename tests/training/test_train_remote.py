"""Training and serving against a real MLflow tracking server (``MLFLOW_TRACKING_URI=http://…``).

Starts ``mlflow server`` on a free 127.0.0.1 port (SQLite backend and proxied artifacts in
``tmp_path``), runs ``python -m training`` against it and resolves
``models:/model-api@champion`` through it, as a pod pulling its model at start does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from service.model import load_predictor
from tests.support.net import free_port, wait_http

# ~40 s on an idle 2-core machine (server start-up dominates)
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = root / "server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=root, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", timeout=120)
        yield url
    except TimeoutError:
        pytest.fail(f"mlflow server did not start:\n{log.read_text()[-2000:]}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_train_and_serve_through_a_tracking_server(tracking_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_server}
    result = subprocess.run(
        [sys.executable, "-m", "training", "--output-json", "--n-estimators", "21"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    trained = json.loads(result.stdout)
    assert trained["tracking_uri"] == tracking_server
    assert trained["aliases"] == ["champion"]
    assert not (tmp_path / ".mlflow").exists()  # nothing went to the embedded store

    predictor = load_predictor("models:/model-api@champion", tracking_uri=tracking_server)
    predictor.load()
    assert predictor.info.version == trained["version"]
    assert predictor.info.runtime == "onnx"
    prediction = predictor.predict(np.zeros((2, 30)))
    assert prediction.labels.shape == prediction.probabilities.shape == (2,)
