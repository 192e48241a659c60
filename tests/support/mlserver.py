"""MLServer (SeldonIO) on 127.0.0.1, run from its own virtual environment (shared helper).

MLServer 1.7.1 pins ``fastapi<0.116`` and this project needs ``fastapi>=0.165``, so MLServer and
its codecs live in ``.venv-mlserver`` (``./dev mlserver``; ``./dev test`` and ``./dev bench``
create it from requirements/mlserver.txt, a lock with hashes) and only ever run as child
processes of that venv's interpreter: ``mlserver start`` serving the trained champion with
``mlserver_sklearn.SKLearnModel``, and client scripts that build requests with MLServer's codecs.
The tests and bench/serve share this module.

The champion's MLflow directory holds the estimator as ``model.skops`` (MLflow's skops
serialization, see training/), and the sklearn runtime only ``joblib.load``s a file: the same
fitted estimator is loaded here with ``mlflow.sklearn.load_model`` and written once with
``joblib.dump`` as ``model.joblib`` into MLServer's model folder. The MLServer venv pins the
scikit-learn version of .venv, so it unpickles what this venv pickled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.bounded import limits
from tests.support.net import free_port
from tests.support.paths import REPO_ROOT


def _venv() -> Path:
    """$MLSERVER_VENV, else the checkout's .venv-mlserver, else the one beside the running venv.

    ./dev puts .venv-mlserver beside .venv; a worktree that runs the tests with another
    checkout's interpreter finds MLServer beside that interpreter's venv.
    """
    explicit = os.environ.get("MLSERVER_VENV")
    if explicit:
        return Path(explicit)
    candidates = [REPO_ROOT / ".venv-mlserver", Path(sys.prefix).parent / ".venv-mlserver"]
    return next((c for c in candidates if (c / "bin" / "mlserver").is_file()), candidates[0])


VENV = _venv()
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = REPO_ROOT / "requirements" / "mlserver.txt"
IMPLEMENTATION = "mlserver_sklearn.SKLearnModel"


def missing() -> str | None:
    """Why MLServer cannot run here, or None."""
    if not (VENV / "bin" / "mlserver").is_file():
        return (
            f"MLServer is not installed in {VENV}: run ./dev mlserver (./dev test does) to create "
            f"it from {REQUIREMENTS.relative_to(REPO_ROOT)}"
        )
    return None


@dataclass(frozen=True)
class MLServer:
    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def write_repository(
    root: Path, *, model_dir: Path, name: str, version: str, parallel_workers: int
) -> tuple[int, int]:
    """``settings.json`` and ``NAME/model-settings.json`` in ``root``; the HTTP and gRPC ports.

    Everything listens on 127.0.0.1; the metrics endpoint is off (``metrics_endpoint: null``),
    and so are the per-request debug logs. ``parallel_workers: 0`` predicts in the server
    process; MLServer's default (1) sends every request to a worker process.
    """
    http_port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        "metrics_endpoint": None,
        "debug": False,
        "parallel_workers": parallel_workers,
        "environments_dir": str(root / ".envs"),
    }
    (root / "settings.json").write_text(json.dumps(settings, indent=2))
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    model = {
        "name": name,
        "implementation": IMPLEMENTATION,
        "parameters": {"uri": str(export_joblib(model_dir, folder)), "version": version},
    }
    (folder / "model-settings.json").write_text(json.dumps(model, indent=2))
    return http_port, grpc_port


def export_joblib(model_dir: Path, folder: Path) -> Path:
    """The MLflow sklearn model in ``model_dir`` as ``folder/model.joblib`` (same estimator)."""
    import joblib
    import mlflow.sklearn

    target = folder / "model.joblib"
    joblib.dump(mlflow.sklearn.load_model(str(model_dir)), target)
    return target


@contextlib.contextmanager
def running(
    root: Path,
    *,
    model_dir: Path,
    name: str,
    version: str,
    parallel_workers: int = 0,
    memory_mib: int = 3072,
    cpu_seconds: int = 3600,
    ready_timeout: float = 180,
) -> Iterator[MLServer]:
    """``mlserver start ROOT`` in its own session, until the model is ready; killed afterwards.

    Bounded: an address-space cap and a CPU-time limit per process (MLServer's inference
    workers inherit both), and the whole session is killed on the way out.
    """
    reason = missing()
    if reason is not None:
        raise AssertionError(reason)
    http_port, grpc_port = write_repository(
        root, model_dir=model_dir, name=name, version=version, parallel_workers=parallel_workers
    )
    log = root / "mlserver.log"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLSERVER_", "PYTHON", "VIRTUAL_ENV", "OTEL_"))
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(VENV / "bin" / "mlserver"), "start", str(root)],
            cwd=root,
            env={**environment, "HOME": str(root)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=limits(memory_mib, cpu_seconds),
        )
    server = MLServer(process, http_port, grpc_port, log)
    try:
        _wait_ready(server, f"{server.url}/v2/models/{name}/ready", ready_timeout)
        yield server
    finally:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_ready(server: MLServer, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"mlserver did not get ready at {url}:\n{server.log.read_text()[-3000:]}")
