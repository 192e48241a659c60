"""MLflow scoring routes in-process (Starlette's TestClient): forms, formats, limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support.fakes import FEATURES, ROW, LinearPredictor, expected_labels
from tests.support.serving import split_body

JSON = {"content-type": "application/json"}


def test_ping_health_version(client: TestClient) -> None:
    for path in ("/ping", "/health"):
        response = client.get(path)
        assert response.status_code == 200 and response.text == "\n"
    version = client.get("/version")
    assert version.status_code == 200 and version.text[0].isdigit()


@pytest.mark.parametrize(
    "document",
    [
        split_body(3),
        {"dataframe_records": [dict(zip(FEATURES, ROW, strict=True))] * 3},
        {"instances": [dict(zip(FEATURES, ROW, strict=True))] * 3},
        {"inputs": {name: [value] * 3 for name, value in zip(FEATURES, ROW, strict=True)}},
    ],
)
def test_invocations_json_forms(
    client: TestClient, predictor: LinearPredictor, document: dict[str, Any]
) -> None:
    response = client.post("/invocations", json=document)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"predictions": expected_labels(predictor, [ROW] * 3)}


def test_columns_reach_the_model_in_signature_order(
    client: TestClient, predictor: LinearPredictor
) -> None:
    shuffled = {"dataframe_split": {"columns": FEATURES[::-1], "data": [list(ROW[::-1])]}}
    assert client.post("/invocations", json=shuffled).status_code == 200
    np.testing.assert_array_equal(predictor.seen[-1], np.array([ROW]))


def test_invocations_csv(client: TestClient, predictor: LinearPredictor) -> None:
    header = ",".join(f'"{name}"' for name in FEATURES)
    row = ",".join(str(v) for v in ROW)
    response = client.post(
        "/invocations", content=f"{header}\n{row}\n{row}\n", headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200
    assert response.json() == {"predictions": expected_labels(predictor, [ROW, ROW])}


def test_large_batches_take_the_thread_pool_and_agree(
    client: TestClient, predictor: LinearPredictor
) -> None:
    rng = np.random.default_rng(0)
    rows = [tuple(np.array(ROW) * rng.uniform(0.5, 1.5, 30)) for _ in range(300)]
    document = {"dataframe_split": {"columns": FEATURES, "data": [list(r) for r in rows]}}
    response = client.post("/invocations", json=document)
    assert response.status_code == 200
    labels = response.json()["predictions"]
    assert labels == expected_labels(predictor, rows) and 0 < sum(labels) < 300


def test_malformed_input_is_400_in_mlflow_format(client: TestClient) -> None:
    response = client.post("/invocations", content=b'{"dataframe_split": ', headers=JSON)
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert set(response.json()) == {"error_code", "message"}
    row: list[object] = list(ROW)
    row[2] = None
    response = client.post(
        "/invocations", json={"dataframe_split": {"columns": FEATURES, "data": [row]}}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'mean perimeter'" in response.json()["message"]


def test_missing_content_type_is_415_json(client: TestClient) -> None:
    response = client.post("/invocations", content=b"{}")
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"
    assert "missing Content-Type" in response.json()["message"]


def test_body_limit_by_content_length_and_while_streaming(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(max_body_bytes=2000)
    small = split_body(1)
    assert client.post("/invocations", json=small).status_code == 200
    big = split_body(20)
    response = client.post("/invocations", json=big)
    assert response.status_code == 413
    assert response.json()["error_code"] == "RESOURCE_LIMIT_EXCEEDED"
    assert "2000 bytes" in response.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for _ in range(100):
            yield b" " * 100

    response = client.post("/invocations", content=chunks(), headers=JSON)
    assert response.status_code == 413
    response = client.post(
        "/v2/models/model-api/infer", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "error" in response.json()
