"""Open Inference Protocol v2 routes in-process (Starlette's TestClient)."""

from __future__ import annotations

import numpy as np
import orjson
from fastapi.testclient import TestClient

from tests.support.fakes import FEATURES, ROW, LinearPredictor, expected_labels
from tests.support.serving import binary_request


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


# --- binary tensor data extension -----------------------------------------------------------


def test_binary_request_json_answer(client: TestClient, predictor: LinearPredictor) -> None:
    rows = np.array([ROW, [v * 0.5 for v in ROW]])
    body, headers = binary_request(rows, id="b-1")
    response = client.post("/v2/models/model-api/infer", content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    labels, probabilities = response.json()["outputs"]
    assert labels["data"] == expected_labels(predictor, rows.tolist())
    expected = predictor.scores(rows).astype(np.float32)
    np.testing.assert_array_equal(np.float32(probabilities["data"]), expected)
    assert response.json()["id"] == "b-1"


def test_binary_answer_when_asked(client: TestClient, predictor: LinearPredictor) -> None:
    rows = np.array([ROW, [v * 0.5 for v in ROW], [v * 2 for v in ROW]])
    body, headers = binary_request(
        rows,
        outputs=[{"name": "predict", "parameters": {"binary_data": True}}, {"name": "probability"}],
    )
    response = client.post("/v2/models/model-api/infer", content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    length = int(response.headers["inference-header-content-length"])
    header = orjson.loads(response.content[:length])
    predict, probability = header["outputs"]
    assert predict["parameters"] == {"binary_data_size": 24} and "data" not in predict
    labels = np.frombuffer(response.content[length:], dtype="<i8")
    assert labels.tolist() == expected_labels(predictor, rows.tolist())
    assert len(response.content) == length + 24
    assert probability["datatype"] == "FP32" and len(probability["data"]) == 3
    assert header["id"] == response.headers["x-prediction-id"]  # the prediction id


def test_binary_content_types(client: TestClient) -> None:
    document = {"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": ROW}]}
    # octet-stream without the header: the whole body is the JSON request
    plain = client.post(
        "/v2/models/model-api/infer",
        content=orjson.dumps(document),
        headers={"content-type": "application/octet-stream"},
    )
    assert plain.status_code == 200
    csv = client.post(
        "/v2/models/model-api/infer", content=b"a,b\n1,2\n", headers={"content-type": "text/csv"}
    )
    assert csv.status_code == 415
    assert "application/octet-stream" in csv.json()["error"]
    assert "csv" not in csv.json()["error"].lower()
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
