"""Model API processes for a rehearsal: the real ``model-api serve`` on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.rehearsal.prometheus import (
    HarnessError,
    file_tail,
    free_port,
    stop_process,
    wait_http,
)


class ApiProcess:
    """``model-api serve`` (or the fault-injecting canary entry point) in a subprocess."""

    def __init__(
        self,
        name: str,
        model_dir: Path,
        log_dir: Path,
        *,
        fault: str = "none",
        error_rate: float = 0.05,
        latency: float = 0.3,
        feedback_store: Path | None = None,
    ) -> None:
        self.name = name
        self.model_dir = model_dir
        self.fault = fault
        self.error_rate = error_rate
        self.latency = latency
        # The prediction log shared by every API of the rehearsal (the platform PostgreSQL's
        # role): feedback for a canary's prediction may reach the stable, as in the cluster.
        self.feedback_store = feedback_store or log_dir / "feedback.sqlite"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.address = f"127.0.0.1:{self.port}"
        self.log_path = log_dir / f"api-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        if self.fault != "none":
            # Test-only entry point: the real server with a faulty model runtime.
            return [sys.executable, "-m", "tools.rehearsal.faults"]
        model_api = shutil.which("model-api") or str(Path(sys.executable).parent / "model-api")
        if os.access(model_api, os.X_OK):
            return [model_api, "serve"]
        return [sys.executable, "-m", "service", "serve"]

    def start(self, timeout: float = 90.0) -> ApiProcess:
        env = {
            **os.environ,
            "MODEL_URI": str(self.model_dir),
            "MODEL_API_HOST": "127.0.0.1",
            "MODEL_API_PORT": str(self.port),
            "MODEL_API_LOG_LEVEL": "warning",
            "MODEL_API_GRACEFUL_TIMEOUT": "2",
            "MODEL_API_FEEDBACK_STORE": f"sqlite:///{self.feedback_store}",
            "REHEARSAL_FAULT": self.fault,
            "REHEARSAL_ERROR_RATE": str(self.error_rate),
            "REHEARSAL_LATENCY": str(self.latency),
        }
        env.pop("MODEL_API_TOKEN_FILE", None)
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_http(f"{self.url}/ping", timeout=timeout, process=self.process)
        except HarnessError as exc:
            self.stop()
            raise HarnessError(f"API {self.name} did not start: {exc}\n{self.log_tail()}") from None
        return self

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self.process = None

    def log_tail(self, lines: int = 15) -> str:
        return file_tail(self.log_path, lines)
