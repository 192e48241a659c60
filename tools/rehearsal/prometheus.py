"""A real Prometheus on 127.0.0.1 for rehearsals and tests.

Scrapes each target every second with the static labels the in-cluster ServiceMonitor would
add (``namespace``, ``rollouts_pod_template_hash``); the TSDB lives in a temporary directory.
Targets can be added while it runs (the config is rewritten and reloaded through
``/-/reload``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

STANDARD_LOCATIONS = ("/usr/bin/prometheus", "/usr/local/bin/prometheus", "/bin/prometheus")


class HarnessError(Exception):
    """A rehearsal component could not be started."""


def find_prometheus() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    for candidate in STANDARD_LOCATIONS:
        if os.access(candidate, os.X_OK):
            return candidate
    raise HarnessError(
        "the prometheus binary was not found on PATH or in /usr/bin; "
        "install it (Debian/Ubuntu: apt-get install prometheus)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(
    url: str,
    *,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    auth: tuple[str, str] | None = None,
) -> None:
    """Poll ``url`` until it answers 200 (bounded); fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise HarnessError(f"{url}: the process exited with code {process.returncode}")
        try:
            response = httpx.get(url, timeout=2.0, auth=auth)
            if response.status_code == 200:
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise HarnessError(f"{url} did not become ready within {timeout:.0f}s (last: {last!r})")


def stop_process(process: subprocess.Popen[bytes] | None, *, timeout: float) -> None:
    """Terminate ``process`` if it still runs; kill it if it outlives ``timeout`` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def file_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class Target:
    """One scrape target: ``host:port`` plus the labels a ServiceMonitor would attach."""

    address: str
    namespace: str
    pod_template_hash: str
    job: str = "model-api"


class PrometheusServer:
    def __init__(
        self,
        workdir: Path | None = None,
        scrape_interval: str = "1s",
        basic_auth: tuple[str, str] | None = None,
        rule_files: Sequence[Path] = (),
    ) -> None:
        self.binary = find_prometheus()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="rehearsal-prometheus-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.scrape_interval = scrape_interval
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets: list[Target] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "prometheus.log"
        self.basic_auth = basic_auth  # protects the HTTP API (web config), for auth tests
        self.rule_files = list(rule_files)

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    def _write_config(self) -> None:
        scrape_configs = []
        for i, target in enumerate(self.targets):
            scrape_configs.append(
                {
                    "job_name": f"{target.job}-{i}",
                    "scrape_interval": self.scrape_interval,
                    "scrape_timeout": self.scrape_interval,
                    "metrics_path": "/metrics",
                    "static_configs": [
                        {
                            "targets": [target.address],
                            "labels": {
                                "namespace": target.namespace,
                                "rollouts_pod_template_hash": target.pod_template_hash,
                            },
                        }
                    ],
                }
            )
        config: dict[str, object] = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": "1s"},
            "scrape_configs": scrape_configs,
        }
        if self.rule_files:
            config["rule_files"] = [str(path) for path in self.rule_files]
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        os.replace(tmp, self.config_path)

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        self._write_config()
        command = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        if self.basic_auth is not None:
            command.append(f"--web.config.file={self._write_web_config()}")
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_http(
                f"{self.url}/-/ready", timeout=timeout, process=self.process, auth=self.basic_auth
            )
        except HarnessError:
            tail = self.log_tail()  # before stop(), which may delete a temporary workdir
            self.stop()
            raise HarnessError(f"prometheus did not start; log:\n{tail}") from None
        return self

    def _write_web_config(self) -> Path:
        assert self.basic_auth is not None
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # bcrypt via the system's libxcrypt; enough for a test password

        user, password = self.basic_auth
        salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)  # noqa: S324 - bcrypt, as Prometheus needs
        hashed = crypt.crypt(password, salt)
        path = self.workdir / "web.yml"
        path.write_text(yaml.safe_dump({"basic_auth_users": {user: hashed}}), encoding="utf-8")
        return path

    def add_target(self, target: Target) -> None:
        self.targets.append(target)
        self._reload()

    def remove_target(self, target: Target) -> None:
        self.targets = [t for t in self.targets if t != target]
        self._reload()

    def _reload(self) -> None:
        self._write_config()
        if self.process is None:
            return
        response = httpx.post(f"{self.url}/-/reload", timeout=10.0, auth=self.basic_auth)
        if response.status_code != 200:
            raise HarnessError(f"prometheus reload failed: {response.text.strip()}")

    def wait_for_series(self, query: str, *, timeout: float = 30.0) -> None:
        """Wait until ``query`` returns a non-empty vector (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = httpx.get(
                    f"{self.url}/api/v1/query", params={"query": query}, timeout=5.0
                ).json()
                if body.get("data", {}).get("result"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        raise HarnessError(f"no data for {query!r} within {timeout:.0f}s")

    def firing(self, alertname: str) -> list[dict[str, str]]:
        """The labels of every firing instance of ``alertname`` (empty when none or on error)."""
        query = f'ALERTS{{alertname="{alertname}",alertstate="firing"}}'
        try:
            body = httpx.get(
                f"{self.url}/api/v1/query", params={"query": query}, timeout=5.0
            ).json()
        except (httpx.HTTPError, ValueError):
            return []
        return [dict(r["metric"]) for r in body.get("data", {}).get("result", [])]

    def kill(self) -> None:
        """Stop abruptly (the 'Prometheus died mid-run' scenario)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
        self.process = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        return file_tail(self.log_path, lines)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
