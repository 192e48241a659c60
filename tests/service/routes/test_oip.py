"""Open Inference Protocol v2 routes in-process (Starlette's TestClient)."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from tests.support.fakes import FEATURES, ROW, LinearPredictor, expected_labels


def test_v2_health_and_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/model-api/ready").json() == {"name": "model-api", "ready": True}
    assert client.get("/v2/models/model-api/versions/7/ready").status_code == 200
    meta = client.get("/v2/models/model-api").json()
    assert meta["versions"] == ["7"] and [t["name"] for t in meta["inputs"]] == list(FEATURES)
    assert {t["shape"] == [-1] and t["datatype"] == "FP64" for t in meta["inputs"]} == {True}
    assert client.get("/v2").json()["name"] == "model-api"


def test_v2_infer(client: TestClient, predictor: LinearPredictor) -> None:
    document = {
        "id": "req-1",
        "inputs": [{"name": "input-0", "shape": [2, 30], "datatype": "FP64", "data": [ROW, ROW]}],
    }
    response = client.post("/v2/models/model-api/infer", json=document)
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "model-api" and body["model_version"] == "7"
    assert body["id"] == "req-1"
    labels, probabilities = body["outputs"]
    assert labels["data"] == expected_labels(predictor, [ROW, ROW])
    np.testing.assert_allclose(probabilities["data"], predictor.scores(np.array([ROW, ROW])))
    versioned = client.post("/v2/models/model-api/versions/7/infer", json=document)
    assert versioned.json() == body


def test_v2_errors(client: TestClient) -> None:
    document = {"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [ROW]}]}
    unknown = client.post("/v2/models/other/infer", json=document)
    assert unknown.status_code == 404 and unknown.json() == {"error": "unknown model 'other'"}
    assert client.get("/v2/models/other").status_code == 404
    assert client.get("/v2/models/other/ready").status_code == 404
    assert client.post("/v2/models/model-api/versions/1/infer", json=document).status_code == 404
    bad = client.post("/v2/models/model-api/infer", json={"inputs": "x"})
    assert bad.status_code == 400 and set(bad.json()) == {"error"}
    wrong_type = client.post(
        "/v2/models/model-api/infer", content=b"{}", headers={"content-type": "text/csv"}
    )
    assert wrong_type.status_code == 415
