"""Triton's and KServe's own clients, in their default modes, against ``model-api serve``.

One real server (the trained champion, ONNX Runtime) listens on HTTP and gRPC on 127.0.0.1. The
clients run in bounded child processes (tests/service/clients/): Triton's HTTP client with its
default binary tensors, Triton's gRPC client, KServe's InferenceRESTClient with
``set_data_from_numpy`` and its InferenceGRPCClient (raw and typed contents). Every answer must
equal the plain JSON v2 answer for the same values. Hostile binary bodies and gRPC messages get
a 400 / INVALID_ARGUMENT quickly, never a 5xx.
"""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.bounded import run_bounded
from tests.support.net import free_port
from tests.support.serving import Server, start_server
from tests.support.trained_model import trained_store

pytestmark = pytest.mark.integration

CLIENTS = Path(__file__).parent / "clients"
MODEL = "model-api"
ROWS = 5


@dataclass
class Api:
    server: Server
    grpc_port: int
    http: httpx.Client
    rows: list[list[float]]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    store = trained_store()
    from training.train import load_dataset

    rows = load_dataset().x_valid.head(ROWS).to_numpy(np.float64).tolist()
    tmp_path = tmp_path_factory.mktemp("oip-clients")
    grpc_port = free_port()
    server = start_server(
        tmp_path,
        module="service",
        args=("serve", "--grpc-port", str(grpc_port)),
        env={
            "MODEL_URI": str(store.model_dir),
            "HOME": str(tmp_path),
            "MODEL_API_DRAIN_SECONDS": "0",
        },
        ready_timeout=120,
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield Api(server, grpc_port, http, rows)
        server.terminate()
        assert server.wait() == 0
    finally:
        server.kill()


def client(script: str, job: dict[str, Any], tmp_path: Path) -> Any:
    path = tmp_path / f"{script}.json"
    path.write_text(json.dumps(job))
    # gRPC reserves far more address space than it uses: cap resident memory, not the space.
    outcome = run_bounded(
        [sys.executable, str(CLIENTS / script), str(path)],
        timeout=180,
        memory_mib=2048,
        address_space=False,
    )
    assert outcome.returncode == 0 and not outcome.timed_out, str(outcome)
    return json.loads(outcome.stdout)


def json_path(api: Api, rows: list[list[float]], dtype: str) -> tuple[list[int], list[float]]:
    """The plain JSON v2 answer for ``rows`` as the client sends them (FP32 rounds them)."""
    values = np.array(rows, dtype=np.float32 if dtype == "FP32" else np.float64)
    document = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(values.shape),
                "datatype": "FP64",
                "data": values.astype(np.float64).tolist(),
            }
        ]
    }
    response = api.http.post(f"/v2/models/{MODEL}/infer", json=document)
    assert response.status_code == 200, response.text
    labels, probabilities = response.json()["outputs"]
    assert probabilities["datatype"] == "FP32"
    return labels["data"], np.float32(probabilities["data"]).tolist()


def test_triton_http_client_with_binary_tensors(api: Api, tmp_path: Path) -> None:
    job = {"url": api.server.url.removeprefix("http://"), "model": MODEL, "rows": api.rows}
    results = client("triton_http.py", job, tmp_path)
    assert {(r["dtype"], r["rows"], r["outputs"]) for r in results} == {
        (dtype, rows, outputs)
        for dtype in ("FP32", "FP64")
        for rows in (1, ROWS)
        for outputs in ("binary", "json")
    }
    for result in results:
        labels, probabilities = json_path(api, api.rows[: result["rows"]], result["dtype"])
        assert result["labels"] == labels, result
        assert result["probabilities"] == probabilities, result
        assert result["probability_dtype"] == "float32"
        assert result["id"]
        assert result["binary"] == [result["outputs"] == "binary"] * 2


def test_triton_grpc_client(api: Api, tmp_path: Path) -> None:
    job = {"url": f"127.0.0.1:{api.grpc_port}", "model": MODEL, "rows": api.rows}
    out = client("triton_grpc.py", job, tmp_path)
    assert (out["live"], out["ready"], out["model_ready"]) == (True, True, True)
    assert out["server"]["name"] == "model-api"
    http_meta = api.http.get(f"/v2/models/{MODEL}").json()
    assert [(t["name"], t["datatype"]) for t in out["metadata"]["inputs"]] == [
        (t["name"], t["datatype"]) for t in http_meta["inputs"]
    ]
    assert out["metadata"]["versions"] == http_meta["versions"]
    for result in out["infer"]:
        labels, probabilities = json_path(api, api.rows[: result["rows"]], result["dtype"])
        assert (result["labels"], result["probabilities"]) == (labels, probabilities), result
        assert result["probability_dtype"] == "float32" and result["id"]
    labels, probabilities = json_path(api, api.rows, "FP64")
    per_column = out["per_column"]
    assert (per_column["labels"], per_column["probabilities"], per_column["id"]) == (
        labels,
        probabilities,
        "cols",
    )
    narrow = {"inputs": [{"name": "input-0", "shape": [1, 29], "datatype": "FP64",
                          "data": api.rows[0][:-1]}]}  # fmt: skip
    http_refusal = api.http.post(f"/v2/models/{MODEL}/infer", json=narrow)
    assert http_refusal.status_code == 400
    assert out["refusal"]["status"] == "StatusCode.INVALID_ARGUMENT"
    assert out["refusal"]["message"] == http_refusal.json()["error"]
    assert out["unknown_model"]["status"] == "StatusCode.NOT_FOUND"
    counted = {
        sample.labels["status"]
        for family in text_string_to_metric_families(api.http.get("/metrics").text)
        if family.name == "model_api_requests"
        for sample in family.samples
        if sample.labels["route"] == "grpc:ModelInfer"
    }
    assert counted == {"200", "400"}


def test_kserve_rest_client_with_binary_tensors(api: Api, tmp_path: Path) -> None:
    job = {"base_url": api.server.url, "model": MODEL, "rows": api.rows}
    results = client("kserve_rest.py", job, tmp_path)
    assert len(results) == 4
    for result in results:
        labels, probabilities = json_path(api, api.rows[: result["rows"]], result["dtype"])
        assert (result["labels"], result["probabilities"]) == (labels, probabilities), result
        assert result["id"]


def test_kserve_grpc_client(api: Api, tmp_path: Path) -> None:
    job = {"target": f"127.0.0.1:{api.grpc_port}", "model": MODEL, "rows": api.rows}
    answer = client("kserve_grpc.py", job, tmp_path)
    assert (answer["live"], answer["ready"], answer["model_ready"]) == (True, True, True)
    assert answer["unknown_model"] == "NOT_FOUND"
    assert len(answer["results"]) == 8
    for result in answer["results"]:
        labels, probabilities = json_path(api, api.rows[: result["rows"]], result["dtype"])
        assert (result["labels"], result["probabilities"]) == (labels, probabilities), result
        assert result["id"]


# --- hostile binary bodies ----------------------------------------------------------------


def binary_body(
    rows: int, columns: int, declared: int | None, payload: bytes, datatype: str = "FP64"
) -> tuple[bytes, dict[str, str]]:
    size = len(payload) if declared is None else declared
    tensor = {"name": "input-0", "shape": [rows, columns], "datatype": datatype,
              "parameters": {"binary_data_size": size}}  # fmt: skip
    header = json.dumps({"inputs": [tensor]}).encode()
    return header + payload, {"inference-header-content-length": str(len(header))}


def one_row(api: Api) -> bytes:
    return struct.pack("<30d", *api.rows[0])


def hostile_cases(api: Api) -> list[tuple[str, bytes, dict[str, str]]]:
    row = one_row(api)
    cases = [
        ("declared size below the shape", *binary_body(1, 30, 232, row[:232])),
        ("declared size above the shape", *binary_body(1, 30, 248, row + b"\0" * 8)),
        ("shape wider than the model", *binary_body(1, 31, None, row + b"\0" * 8)),
        ("truncated body", *binary_body(1, 30, 240, row[:200])),
        ("bytes after the last input", *binary_body(1, 30, 240, row + b"junk")),
        ("huge declared size", *binary_body(1, 30, 1 << 62, row)),
        ("huge declared shape", *binary_body(1 << 60, 30, 240, row)),
        ("FP32 size for FP64 data", *binary_body(1, 30, 240, row, "FP32")),
        ("BYTES count beyond the data", *binary_body(1 << 40, 30, 8, b"\1\0\0\0x\0\0\0", "BYTES")),
    ]
    body, _ = binary_body(1, 30, None, row)
    cases.append(("header length past the body", body, {"inference-header-content-length": "1"
                                                          + "0" * 9}))  # fmt: skip
    cases.append(("header length not a number", body, {"inference-header-content-length": "x"}))
    cases.append(("header length inside the JSON", body, {"inference-header-content-length": "7"}))
    return cases


def test_hostile_binary_bodies_are_400_naming_the_problem(api: Api) -> None:
    for what, body, headers in hostile_cases(api):
        response = api.http.post(
            f"/v2/models/{MODEL}/infer",
            content=body,
            headers={**headers, "content-type": "application/octet-stream"},
            timeout=10,
        )
        assert response.status_code == 400, (what, response.status_code, response.text)
        assert set(response.json()) == {"error"}, what
    # The server is fine afterwards.
    assert api.http.get("/v2/health/ready").status_code == 200


def test_binary_body_over_the_size_limit_is_413(api: Api) -> None:
    body, headers = binary_body(5000, 30, None, b"\0" * (5000 * 240))
    response = api.http.post(f"/v2/models/{MODEL}/infer", content=body, headers=headers)
    assert response.status_code == 413
