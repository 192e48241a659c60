"""Model quality on a real ``model-api serve`` of a really trained model: the feedback join across
a restart, live accuracy counters against an independent computation, feature PSI on shifted and
unshifted traffic; and two replicas sharing the cluster's store on a real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.postgres import running_postgres
from tests.support.serving import Server, start_server
from tests.support.trained_model import TrainedStore, trained_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store() -> TrainedStore:
    return trained_store()


@pytest.fixture(scope="module")
def data() -> Any:
    from training.train import load_dataset

    return load_dataset()


def serve(tmp_path: Path, store: TrainedStore, feedback_store: str, **env: str) -> Server:
    return start_server(
        tmp_path,
        module="service",
        args=("serve",),
        env={
            "MODEL_URI": "models:/model-api@champion",
            "MLFLOW_TRACKING_URI": store.tracking_uri,
            "HOME": str(tmp_path),
            "MODEL_API_DRAIN_SECONDS": "0",
            "MODEL_API_FEEDBACK_STORE": feedback_store,
            **env,
        },
        ready_timeout=120,
    )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def stop(server: Server) -> None:
    server.terminate()
    assert server.wait() == 0


def metric(url: str, name: str) -> dict[str, float]:
    """``name``'s samples keyed by their one label value (or "" without labels)."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {
        next(iter(s.labels.values()), ""): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def predict(url: str, frame: Any) -> httpx.Response:
    body = {"dataframe_split": {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}}
    answer = httpx.post(f"{url}/invocations", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def test_a_prediction_made_before_a_restart_joins_after_it(
    tmp_path: Path, store: TrainedStore, data: Any, servers: list[Server]
) -> None:
    url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    first = serve(tmp_path, store, url)
    servers.append(first)
    answer = predict(first.url, data.x_valid.head(4))
    stop(first)  # the queue is written on the way out
    second = serve(tmp_path, store, url)
    servers.append(second)
    labels = data.y_valid[:4].tolist()
    body = {"prediction_id": answer.headers["x-prediction-id"], "labels": labels}
    joined = httpx.post(f"{second.url}/feedback", json=body, timeout=30)
    assert joined.status_code == 202, joined.text
    assert joined.json()["counted"] is True
    version = store.result.version
    assert metric(second.url, "model_api_feedback_total") == {version: 4.0}


def test_counters_equal_the_accuracy_of_the_same_rows_and_psi_tracks_shifts(
    tmp_path: Path, store: TrainedStore, data: Any, servers: list[Server]
) -> None:
    server = serve(tmp_path, store, f"sqlite:///{tmp_path / 'feedback.sqlite'}")
    servers.append(server)
    # Validation rows in batches of 10, their true labels posted as feedback.
    predicted: list[int] = []
    for start in range(0, len(data.y_valid), 10):
        answer = predict(server.url, data.x_valid.iloc[start : start + 10])
        predicted += answer.json()["predictions"]
        truth = data.y_valid[start : start + 10].tolist()
        body = {"prediction_id": answer.headers["x-prediction-id"], "labels": truth}
        assert httpx.post(f"{server.url}/feedback", json=body, timeout=30).status_code == 202
    correct = int(np.sum(np.asarray(predicted) == data.y_valid))
    version = store.result.version
    assert metric(server.url, "model_api_feedback_total") == {version: float(len(predicted))}
    assert metric(server.url, "model_api_feedback_correct_total") == {version: float(correct)}
    training = metric(server.url, "model_api_training_accuracy")
    assert training == {version: pytest.approx(store.result.run.metrics["accuracy"])}

    # Unshifted traffic: 1,000 rows drawn from the data set fill the window.
    everything = np.vstack([data.x_train.to_numpy(), data.x_valid.to_numpy()])
    rows = everything[np.random.default_rng(7).integers(0, len(everything), 1000)]
    frame = data.x_valid.iloc[:0].reindex(range(1000))
    frame.loc[:, :] = rows
    for start in range(0, 1000, 100):
        predict(server.url, frame.iloc[start : start + 100])
    unshifted = metric(server.url, "model_api_feature_psi")
    assert set(unshifted) == set(data.x_valid.columns)
    assert max(unshifted.values()) < 0.1, unshifted

    # One feature times 1.5: its PSI goes above 0.25, the others stay below 0.1.
    shifted = frame.copy()
    shifted["mean radius"] = shifted["mean radius"] * 1.5
    for start in range(0, 1000, 100):
        predict(server.url, shifted.iloc[start : start + 100])
    psi = metric(server.url, "model_api_feature_psi")
    assert psi.pop("mean radius") > 0.25
    assert max(psi.values()) < 0.1, psi


def test_feedback_reaches_any_replica_through_postgresql(
    tmp_path: Path, store: TrainedStore, data: Any, servers: list[Server]
) -> None:
    with running_postgres() as postgres:
        postgres.superuser_sql("CREATE DATABASE feedback OWNER mlflow")
        url = postgres.uri("feedback").replace("postgresql+psycopg2://", "postgresql://")
        one = serve(tmp_path, store, url)
        servers.append(one)
        two = serve(tmp_path, store, url)
        servers.append(two)
        answer = predict(one.url, data.x_valid.head(3))
        body = {"prediction_id": answer.headers["x-prediction-id"], "labels": [0, 1, 0]}
        # Replica one writes its log in the background (every 0.2 s): another replica knows the
        # id once that batch is committed. Ask until then, for at most 20 s.
        deadline = time.monotonic() + 20
        while True:
            joined = httpx.post(f"{two.url}/feedback", json=body, timeout=30)
            if joined.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert joined.status_code == 202, joined.text
        again = httpx.post(f"{one.url}/feedback", json=body, timeout=30)
        assert again.status_code == 202 and again.json()["counted"] is False
        version = store.result.version
        assert metric(two.url, "model_api_feedback_total") == {version: 3.0}
        assert metric(one.url, "model_api_feedback_total") == {}
        stop(one)
        stop(two)
