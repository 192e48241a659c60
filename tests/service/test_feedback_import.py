"""``model-api feedback import FILE`` against a real server (numpy predictor, SQLite log)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.paths import REPO_ROOT
from tests.support.serving import Server, split_body

pytestmark = pytest.mark.integration


def run_import(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "feedback", "import", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_back_fills_counts_once_and_reports_problems(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(env={"MODEL_API_DRAIN_SECONDS": "0"})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = client.post("/invocations", json=split_body(2))
        second = client.post("/invocations", json=split_body(1))
    one, two = first.headers["x-prediction-id"], second.headers["x-prediction-id"]
    assert first.json()["predictions"] == [1, 1] and second.json()["predictions"] == [1]
    good = tmp_path / "labels.csv"
    good.write_text(f"prediction_id,row,label\n{one},1,0\n{one},0,1\n{two},0,1\n")
    done = run_import(str(good), "--url", server.url)
    assert done.returncode == 0, done.stderr
    assert "2 predictions labelled, 0 had their labels already, 0 problems" in done.stdout
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'model_api_feedback_total{model_version="7"} 3.0' in metrics
    assert 'model_api_feedback_correct_total{model_version="7"} 2.0' in metrics

    again = run_import(str(good), "--url", server.url)
    assert again.returncode == 0
    assert "0 predictions labelled, 2 had their labels already" in again.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "prediction_id,row,label\n"
        "nobody-1,0,1\n"  # unknown id: 404
        f"{one},x,1\n"  # not an integer
        "gap-1,1,0\n"  # row 0 missing: not sent
    )
    refused = run_import(str(bad), "--url", server.url)
    assert refused.returncode == 1
    assert "bad.csv:3: row and label must be integers" in refused.stderr
    assert "gap-1: rows [1] are not 0..0; not sent" in refused.stderr
    assert "nobody-1: 404 unknown or expired prediction id" in refused.stderr

    header = tmp_path / "header.csv"
    header.write_text("id,label\n1,1\n")
    wrong = run_import(str(header), "--url", server.url)
    assert wrong.returncode == 1
    assert "the header must name the columns prediction_id, row, label" in wrong.stderr
    missing = run_import(str(tmp_path / "none.csv"), "--url", server.url)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert "Traceback" not in missing.stderr + wrong.stderr + refused.stderr
