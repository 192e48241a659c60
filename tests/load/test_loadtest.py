"""tests/load: the Python load generator against a real local API, and the k6 script's SLOs.

The load test runs for a few seconds against `model-api serve` on a free port (the model comes
from a temporary MLflow store). Assertions are about the mechanics (counts, statuses, exit
codes), never about speed: performance is measured by bench/serve, not asserted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.load import loadtest
from tests.support.net import free_port, wait_http
from tests.support.trained_model import trained_store

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "loadtest.py"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_dir = trained_store().model_dir
    port = free_port()
    log = tmp_path_factory.mktemp("api") / "api.log"
    env = {**os.environ, "MODEL_URI": str(model_dir), "MODEL_API_LOG_LEVEL": "warning"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/ping", timeout=90)
        yield url
    except TimeoutError:
        pytest.fail(f"the API did not become ready:\n{log.read_text()[-2000:]}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
def test_load_against_the_local_api_meets_thresholds(api_url: str) -> None:
    # generous latency limit: the machine is shared, and speed is bench/serve's job
    result = run_script(
        "--url", api_url, "--duration", "3", "--concurrency", "4", "--p95-ms", "10000", "--json"
    )
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert report["passed"] is True
    assert report["requests"] > 0
    assert report["statuses"] == {"200": report["requests"]}
    assert report["errors"] == 0 and report["error_rate"] == 0.0
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]


@pytest.mark.integration
def test_missed_threshold_exits_non_zero(api_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = loadtest.main(
        ["--url", api_url, "--duration", "1", "--concurrency", "2", "--p95-ms", "0.0001"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "p95_ms" in out and "MISSED" in out
    assert "FAILED" in out


@pytest.mark.integration
def test_errors_are_counted_and_fail_the_run(
    api_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a body the API rejects (unknown column name) -> every answer is a 4xx
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"columns": ["nope"], "data": [[1.0]]}))
    code = loadtest.main(
        [
            "--url",
            api_url,
            "--duration",
            "1",
            "--concurrency",
            "2",
            "--rows-file",
            str(rows),
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["errors"] == report["requests"] > 0
    assert set(report["statuses"]) == {"400"}
    assert report["thresholds"]["error_rate"]["ok"] is False


def test_unreachable_api_fails_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code = loadtest.main(
        [
            "--url",
            f"http://127.0.0.1:{free_port()}",
            "--duration",
            "1",
            "--concurrency",
            "1",
            "--max-requests",
            "5",
        ]
    )
    assert code == 1
    assert "ConnectError: 5" in capsys.readouterr().out


def test_bad_rows_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert loadtest.main(["--rows-file", str(tmp_path / "missing.json"), "--duration", "1"]) == 2
    assert "cannot read inputs" in capsys.readouterr().err


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert loadtest.percentile(values, 0.95) == 95.0
    assert loadtest.percentile(values, 0.5) == 50.0
    assert loadtest.percentile([7.0], 0.99) == 7.0


def test_k6_thresholds_are_the_same_slos() -> None:
    script = (HERE / "k6-invocations.js").read_text()
    p95 = re.search(r"http_req_duration: \['p\(95\)<(\d+)'\]", script)
    failed = re.search(r"http_req_failed: \['rate<([0-9.]+)'\]", script)
    assert p95 and failed
    assert float(p95.group(1)) == loadtest.P95_MS == 500
    assert float(failed.group(1)) == loadtest.MAX_ERROR_RATE == 0.001
    assert "../data/load/breast_cancer_rows.json" in script
    assert (HERE / "../data/load/breast_cancer_rows.json").resolve().is_file()
