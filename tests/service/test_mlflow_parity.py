"""MLflow's own request builders against ``model-api serve`` and ``mlflow models serve``.

Both servers run on 127.0.0.1 on the same registered model, and every request below is built by
MLflow's client code (``convert_input_example_to_serving_input``, ``ScoringServerClient``) or has
the shape those helpers produce. Where MLflow answers 200, so must we, with the same predictions;
where we deliberately differ (null/NaN in a required column, docs/SERVICE.md), the answer is a 400
that names the column and the row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support.net import free_port
from tests.support.serving import start_server
from tests.support.trained_model import TrainedStore, trained_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store() -> TrainedStore:
    return trained_store()


@pytest.fixture(scope="module")
def frame() -> Any:
    from training.train import load_dataset

    return load_dataset().x_valid.iloc[:6].reset_index(drop=True)


@pytest.fixture(scope="module")
def ours(store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("ours")
    server = start_server(
        tmp_path,
        module="service",
        args=("serve",),
        env={"MODEL_URI": str(store.model_dir), "HOME": str(tmp_path),
             "MODEL_API_DRAIN_SECONDS": "0"},
        ready_timeout=120,
    )  # fmt: skip
    try:
        yield server.url
    finally:
        server.kill()


@pytest.fixture(scope="module")
def theirs(store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow models serve`` on the same model directory (local environment, no network)."""
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow") / "serve.log"
    # It execs ``uvicorn`` from PATH in a child process: put this interpreter's scripts first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": store.tracking_uri,
           "HOME": str(log.parent)}  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(store.model_dir),
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"http://127.0.0.1:{port}/ping"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"mlflow models serve did not start:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        # mlflow models serve execs uvicorn in a child: stop the whole session.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def post(url: str, body: str | bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/invocations", content=body, headers={"content-type": "application/json"},
        timeout=30,
    )  # fmt: skip


def both(ours: str, theirs: str, body: str | bytes) -> tuple[httpx.Response, httpx.Response]:
    return post(ours, body), post(theirs, body)


def test_bodies_from_convert_input_example_to_serving_input(
    ours: str, theirs: str, frame: Any
) -> None:
    from mlflow.models.utils import convert_input_example_to_serving_input

    row = frame.iloc[0].to_dict()
    examples = {
        "dict of scalars": row,  # -> {"inputs": {column: value}}
        "dict of lists": frame.iloc[:3].to_dict(orient="list"),  # -> {"inputs": {column: [..]}}
        "list of records": frame.iloc[:3].to_dict(orient="records"),  # -> {"inputs": [{..}]}
        "DataFrame": frame,  # -> {"dataframe_split": ...}
    }
    for label, example in examples.items():
        body = convert_input_example_to_serving_input(example)
        assert body is not None, label
        mine, reference = both(ours, theirs, body)
        assert reference.status_code == 200, (label, reference.text[:300])
        assert mine.status_code == 200, (label, mine.text)
        assert mine.json() == json.loads(reference.text), label
    scalars = json.loads(convert_input_example_to_serving_input(row) or "{}")
    assert isinstance(next(iter(scalars["inputs"].values())), float)


def test_instances_as_columns_and_scalars_broadcast_like_pandas(
    ours: str, theirs: str, frame: Any
) -> None:
    columns = frame.iloc[:4].to_dict(orient="list")
    mixed: dict[str, Any] = frame.iloc[0].to_dict()
    first = next(iter(mixed))
    mixed[first] = [mixed[first]] * 3  # one list column, the others scalars: three rows
    for body in ({"instances": columns}, {"inputs": mixed}, {"instances": frame.iloc[0].to_dict()}):
        mine, reference = both(ours, theirs, json.dumps(body))
        assert reference.status_code == 200, reference.text[:300]
        assert mine.status_code == 200, mine.text
        assert mine.json() == json.loads(reference.text)


def test_nan_from_mlflows_scoring_client_is_a_400_naming_the_column(
    ours: str, theirs: str, frame: Any
) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient
    from mlflow.utils.proto_json_utils import dump_input_data

    with_nan = frame.iloc[:3].copy()
    column = with_nan.columns[4]
    with_nan.iloc[1, 4] = np.nan
    body = dump_input_data(with_nan)  # exactly what ScoringServerClient.invoke sends
    assert "NaN" in body  # the bare JSON literal, not valid strict JSON
    mine, reference = both(ours, theirs, body)
    assert reference.status_code == 200  # MLflow predicts on NaN (a documented difference)
    assert mine.status_code == 400
    error = mine.json()
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert repr(column) in error["message"] and "row 1" in error["message"]

    # Without NaN the client works unchanged against both servers.
    port = int(ours.rsplit(":", 1)[1])
    predictions = ScoringServerClient("127.0.0.1", port).invoke(frame).get_predictions()
    assert (
        predictions.iloc[:, 0].tolist()
        == json.loads(post(theirs, dump_input_data(frame)).text)["predictions"]
    )
    # Infinity literals parse too, and are refused by the same rule.
    infinite = body.replace("NaN", "-Infinity")
    response = post(ours, infinite)
    assert response.status_code == 400 and "infinite" in response.json()["message"]


def test_a_record_missing_a_key_names_the_row_and_the_column(
    ours: str, theirs: str, frame: Any
) -> None:
    records = frame.iloc[:3].to_dict(orient="records")
    column = frame.columns[7]
    del records[2][column]
    mine, reference = both(ours, theirs, json.dumps({"dataframe_records": records}))
    assert reference.status_code == 200  # pandas fills the hole with NaN, MLflow predicts on it
    assert mine.status_code == 400
    message = mine.json()["message"]
    assert "dataframe_records[2]" in message and repr(column) in message
    assert "other rows have them" in message
    # When no record has the column, the column itself is missing.
    for record in records:
        record.pop(column, None)
    mine = post(ours, json.dumps({"dataframe_records": records}))
    assert mine.status_code == 400 and "missing required column" in mine.json()["message"]


def test_invalid_json_with_a_nan_token_is_still_a_400(ours: str) -> None:
    for body in (b'{"inputs": {"a": NaN', b'{"inputs": NaNa}', b"\xff NaN", b"[" * 50_000 + b"NaN"):
        response = post(ours, body)
        assert response.status_code == 400, body[:40]
        assert response.json()["error_code"] == "BAD_REQUEST"
