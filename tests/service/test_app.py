"""The HTTP layer in-process (Starlette's TestClient): routes, formats, limits, auth, readiness."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from service import auth
from service.app import create_app, data_plane
from service.predictor import ModelLoadError, Prediction
from tests.service.conftest import settings, split_body
from tests.service.fakes import FEATURES, ROW, LinearPredictor

JSON = {"content-type": "application/json"}


def expected_labels(predictor: LinearPredictor, rows: list[tuple[float, ...]]) -> list[int]:
    return [int(p >= 0.5) for p in predictor.scores(np.array(rows))]


# --- MLflow scoring protocol ----------------------------------------------------------------


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


def test_unknown_path_and_wrong_method(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    response = client.get("/invocations")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert client.get("/v2/nope").json() == {"error": "Not Found"}


def test_a_failing_model_is_500_without_details(make_client: Callable[..., TestClient]) -> None:
    class Broken(LinearPredictor):
        armed = False

        def predict(self, features: np.ndarray[Any, Any]) -> Prediction:
            if self.armed:
                raise RuntimeError("secret internal detail")
            return super().predict(features)

    predictor = Broken()
    client = make_client(predictor)
    predictor.armed = True
    response = client.post("/invocations", json=split_body(1))
    assert response.status_code == 500
    assert response.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "internal error; see the server log",
    }


# --- Open Inference Protocol v2 ---------------------------------------------------------------


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


# --- readiness and model loading ------------------------------------------------------------


def test_not_ready_until_loaded_but_live() -> None:
    predictor = LinearPredictor()
    app = create_app(settings(), predictor)
    client = TestClient(app)  # no lifespan: the model is not loaded
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/ping").status_code == 503
    assert client.get("/v2/health/ready").status_code == 503
    assert client.post("/invocations", json=split_body()).status_code == 503
    assert client.post("/v2/models/model-api/infer", json={}).status_code == 503
    assert "model_api_model_loaded 0.0" in client.get("/metrics").text
    data_plane(app).load("models:/x")
    assert client.get("/ping").status_code == 200
    assert "model_api_model_loaded 1.0" in client.get("/metrics").text
    data_plane(app).load("models:/x")
    assert predictor.loads == 1


def test_load_failure_is_a_clear_error() -> None:
    app = create_app(settings(), LinearPredictor(fail_load="registry unreachable"))
    with pytest.raises(ModelLoadError, match=r"models:/model-api@champion: registry unreachable"):
        data_plane(app).load("models:/model-api@champion")
    assert not data_plane(app).ready


def test_warm_up_checks_the_prediction_shape() -> None:
    class Wrong(LinearPredictor):
        def predict(self, features: np.ndarray[Any, Any]) -> Prediction:
            return Prediction(np.zeros(2, dtype=np.int64), np.zeros(3))

    with pytest.raises(ModelLoadError, match="wrong shape"):
        data_plane(create_app(settings(), Wrong())).load("m")


# --- bearer token -----------------------------------------------------------------------------


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("s3cret-token\n")
    return path


def test_bearer_token_guards_inference_only(
    make_client: Callable[..., TestClient], token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(token_file=token_file)
    infer = {"inputs": [{"name": "i", "shape": [1, 30], "datatype": "FP64", "data": ROW}]}
    for path, document in (("/invocations", split_body()), ("/v2/models/model-api/infer", infer)):
        missing = client.post(path, json=document)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post(path, json=document, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = client.post(path, json=document, headers={"authorization": "Basic czNjcmV0"})
        assert basic.status_code == 401
        good = client.post(path, json=document, headers={"authorization": "Bearer s3cret-token"})
        assert good.status_code == 200
    for open_path in ("/ping", "/v2/health/ready", "/metrics", "/v2/models/model-api"):
        assert client.get(open_path).status_code == 200
    # A rotated Secret is picked up without a restart.
    monkeypatch.setattr(auth, "_RECHECK_SECONDS", 0.0)
    token_file.write_text("rotated")
    os.utime(token_file, (1, 1))
    headers = {"authorization": "Bearer rotated"}
    assert client.post("/invocations", json=split_body(), headers=headers).status_code == 200


def test_token_file_problems_fail_at_startup(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(auth.TokenError, match="empty"):
        create_app(settings(token_file=empty), LinearPredictor())
    with pytest.raises(auth.TokenError, match="cannot read token file"):
        create_app(settings(token_file=tmp_path / "absent"), LinearPredictor())


# --- request id and access log ----------------------------------------------------------------


def test_request_id_and_access_log(client: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("model_api.access").setLevel(logging.INFO)
    capfd.readouterr()
    echoed = client.post("/invocations", json=split_body(), headers={"x-request-id": "abc-1"})
    generated = client.get("/v2/models/model-api/ready")
    hostile = client.get("/ping", headers={"x-request-id": "a b;" * 40})
    assert echoed.headers["x-request-id"] == "abc-1"
    assert len(generated.headers["x-request-id"]) == 16
    assert hostile.headers["x-request-id"] != "a b;" * 40
    lines = [orjson.loads(line) for line in capfd.readouterr().out.splitlines()]
    lines = [line for line in lines if line["logger"] == "model_api.access"]
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == "abc-1" and first["route"] == "/invocations"
    assert first["status"] == 200 and first["model_version"] == "7" and first["latency_ms"] > 0
    assert first["level"] == "info" and first["ts"].endswith("Z")
    assert lines[1]["route"] == "/v2/models/{model_name}/ready"
    logging.getLogger("model_api.access").setLevel(logging.WARNING)
    client.get("/ping")
    assert "model_api.access" not in capfd.readouterr().out
    logging.getLogger("model_api.access").setLevel(logging.NOTSET)
