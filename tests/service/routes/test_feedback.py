"""Prediction ids and ``POST /feedback`` on the app (numpy predictor, SQLite prediction log)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.fakes import FEATURES, ROW, LinearPredictor, expected_labels
from tests.support.serving import split_body


@pytest.fixture
def api(make_client: Callable[..., TestClient], tmp_path: Path) -> TestClient:
    return make_client(feedback_store=f"sqlite:///{tmp_path / 'feedback.sqlite'}")


def samples(client: TestClient, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = client.get("/metrics").text
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def infer_body(rows: int, **extra: Any) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "input-0", "datatype": "FP64", "shape": [rows, 30], "data": list(ROW) * rows}
        ],
        **extra,
    }


def test_each_answer_carries_its_own_prediction_id(api: TestClient) -> None:
    first = api.post("/invocations", json=split_body(2))
    second = api.post("/invocations", json=split_body(1))
    ids = [first.headers["x-prediction-id"], second.headers["x-prediction-id"]]
    assert all(ids) and ids[0] != ids[1]
    assert first.headers["x-request-id"] not in ids
    failed = api.post("/invocations", json={"dataframe_split": {"columns": ["x"], "data": [[1]]}})
    assert failed.status_code == 400 and "x-prediction-id" not in failed.headers


def test_v2_answers_carry_the_id_in_the_header_and_as_id_when_the_client_sent_none(
    api: TestClient,
) -> None:
    answer = api.post("/v2/models/model-api/infer", json=infer_body(2))
    assert answer.status_code == 200
    assert answer.json()["id"] == answer.headers["x-prediction-id"]
    named = api.post("/v2/models/model-api/infer", json=infer_body(1, id="client-42"))
    assert named.json()["id"] == "client-42"
    assert named.headers["x-prediction-id"] not in ("client-42", answer.headers["x-prediction-id"])
    feedback = {"prediction_id": named.headers["x-prediction-id"], "labels": [1]}
    assert api.post("/feedback", json=feedback).status_code == 202


def test_feedback_is_joined_once_and_counted_under_the_predicting_version(
    api: TestClient, predictor: LinearPredictor
) -> None:
    rows = [ROW, tuple(v * 0.5 for v in ROW), tuple(v * 1.5 for v in ROW)]
    body = {"dataframe_split": {"columns": list(FEATURES), "data": [list(r) for r in rows]}}
    answer = api.post("/invocations", json=body)
    predicted = answer.json()["predictions"]
    assert predicted == expected_labels(LinearPredictor(), rows)
    truth = [predicted[0], 1 - predicted[1], predicted[2]]
    feedback = {"prediction_id": answer.headers["x-prediction-id"], "labels": truth}
    accepted = api.post("/feedback", json=feedback)
    assert accepted.status_code == 202
    assert accepted.json() == {
        "prediction_id": feedback["prediction_id"],
        "rows": 3,
        "counted": True,
        "model_version": "7",
    }
    again = api.post("/feedback", json={**feedback, "labels": [0, 0, 0]})
    assert again.status_code == 202 and again.json()["counted"] is False
    version = (("model_version", "7"),)
    assert samples(api, "model_api_feedback_total") == {version: 3.0}
    assert samples(api, "model_api_feedback_correct_total") == {version: 2.0}
    confusion = samples(api, "model_api_feedback_confusion_total")
    expected: dict[tuple[str, str], float] = {}
    for p, a in zip(predicted, truth, strict=True):
        expected[(str(p), str(a))] = expected.get((str(p), str(a)), 0) + 1
    assert {(dict(k)["predicted"], dict(k)["actual"]): v for k, v in confusion.items()} == expected


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"prediction_id": "nobody-1", "labels": [1]}, 404, "unknown or expired"),
        ({"prediction_id": "ID", "labels": [1, 0, 1]}, 400, "expected 2 labels"),
        ({"prediction_id": "ID", "labels": [1, 2]}, 400, "labels[1] = 2"),
        ({"prediction_id": "ID", "labels": [1, True]}, 400, "labels[1] = True"),
        ({"prediction_id": "ID", "labels": ["1", 0]}, 400, "labels[0] = '1'"),
        ({"prediction_id": "ID", "labels": [1.0, 0]}, 400, "labels[0] = 1.0"),
        ({"prediction_id": "ID", "labels": []}, 400, "non-empty list"),
        ({"prediction_id": "ID", "labels": 1}, 400, "non-empty list"),
        ({"prediction_id": "ID"}, 400, "missing field 'labels'"),
        ({"labels": [1, 0]}, 400, "missing field 'prediction_id'"),
        ({"prediction_id": 5, "labels": [1, 0]}, 400, "'prediction_id' must be a string"),
        ({"prediction_id": "x" * 65, "labels": [1]}, 400, "'prediction_id' must be a string"),
        ({"prediction_id": "ID", "labels": [1, 0], "extra": 1}, 400, "unknown field 'extra'"),
        ([1, 2], 400, "the body must be"),
    ],
)
def test_refused_feedback_says_why(api: TestClient, body: Any, status: int, message: str) -> None:
    prediction_id = api.post("/invocations", json=split_body(2)).headers["x-prediction-id"]
    if isinstance(body, dict) and body.get("prediction_id") == "ID":
        body = {**body, "prediction_id": prediction_id}
    answer = api.post("/feedback", json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["message"]
    # Nothing refused was counted; the prediction still takes its labels.
    assert samples(api, "model_api_feedback_total") == {}
    fine = api.post("/feedback", json={"prediction_id": prediction_id, "labels": [0, 1]})
    assert fine.status_code == 202


def test_a_body_that_is_not_json_is_a_400(api: TestClient) -> None:
    answer = api.post(
        "/feedback", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "BAD_REQUEST"


def test_feedback_takes_the_same_token_as_inference(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    client = make_client(
        feedback_store=f"sqlite:///{tmp_path / 'feedback.sqlite'}", token_file=token
    )
    auth = {"authorization": "Bearer s3cret"}
    prediction_id = client.post("/invocations", json=split_body(1), headers=auth).headers[
        "x-prediction-id"
    ]
    body = {"prediction_id": prediction_id, "labels": [1]}
    refused = client.post("/feedback", json=body)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert (
        client.post("/feedback", json=body, headers={"authorization": "Bearer no"}).status_code
        == 401
    )
    assert client.post("/feedback", json=body, headers=auth).status_code == 202


def test_without_a_store_there_is_no_feedback_route_but_ids_still_come(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(feedback_store="off")
    assert client.post("/invocations", json=split_body(1)).headers["x-prediction-id"]
    assert client.post("/feedback", json={"prediction_id": "a", "labels": [1]}).status_code == 404


def test_a_full_queue_drops_and_counts(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    from tests.support.net import free_port

    client = make_client(
        feedback_store=f"postgresql://nobody:x@127.0.0.1:{free_port()}/none",
        prediction_log_queue=2,
    )
    for _ in range(5):
        assert client.post("/invocations", json=split_body(1)).status_code == 200
    assert samples(client, "model_api_prediction_log_dropped_total") == {(): 3.0}


def test_the_access_line_carries_the_prediction_id(
    api: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    import orjson

    logging.getLogger("model_api.access").setLevel(logging.INFO)
    try:
        prediction_id = api.post("/invocations", json=split_body(1)).headers["x-prediction-id"]
    finally:
        logging.getLogger("model_api.access").setLevel(logging.NOTSET)
    lines = [orjson.loads(line) for line in capfd.readouterr().out.splitlines() if line]
    access = [line for line in lines if line.get("route") == "/invocations"]
    assert access and access[-1]["prediction_id"] == prediction_id
