"""``model-api serve`` on a model really trained and registered into a temporary MLflow store.

Checks the full chain (registry alias -> download -> ONNX Runtime -> HTTP) and the MLflow
scoring protocol's behaviour on the requests recorded in the reference note on
``mlflow models serve`` 3.17: the same bodies get the same status codes and ``error_code``s.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from service.model import load_predictor
from tests.support.serving import start_server
from tests.support.trained_model import TrainedStore, trained_store

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store() -> TrainedStore:
    return trained_store()


@pytest.fixture(scope="module")
def validation() -> Any:
    from training.train import load_dataset

    return load_dataset().x_valid


@pytest.fixture(scope="module")
def api(store: TrainedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One ``python -m service serve`` for the module (starting it imports MLflow: seconds)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    server = start_server(
        tmp_path,
        module="service",
        args=("serve",),
        env={
            "MODEL_URI": "models:/model-api@champion",
            "MLFLOW_TRACKING_URI": store.tracking_uri,
            "HOME": str(tmp_path),
            "MODEL_API_DRAIN_SECONDS": "0",
        },
        ready_timeout=120,
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
        server.terminate()
        assert server.wait() == 0
        # MLflow leaves idle non-daemon threads behind: they must not read as abandoned work.
        assert "abandoning" not in server.log.read_text()
    finally:
        server.kill()


def test_predictions_match_the_runtime_on_the_validation_split(
    api: httpx.Client, store: TrainedStore, validation: Any
) -> None:
    predictor = load_predictor(str(store.model_dir))
    predictor.load()
    expected = predictor.predict(validation.to_numpy(np.float64))
    body = {
        "dataframe_split": {
            "columns": list(validation.columns),
            "index": list(range(len(validation))),
            "data": validation.to_numpy().tolist(),
        }
    }
    response = api.post("/invocations", json=body)
    assert response.status_code == 200
    assert response.json() == {"predictions": expected.labels.tolist()}
    tensor = {
        "name": "input-0",
        "shape": list(validation.shape),
        "datatype": "FP64",
        "data": validation.to_numpy().ravel().tolist(),
    }
    v2 = api.post("/v2/models/model-api/infer", json={"id": "x", "inputs": [tensor]}).json()
    assert v2["model_version"] == store.result.version
    labels, probabilities = v2["outputs"]
    assert labels["data"] == expected.labels.tolist()
    # FP32, as computed by the ONNX graph: the JSON numbers read back as float32 are exact.
    assert probabilities["datatype"] == "FP32"
    np.testing.assert_array_equal(
        np.asarray(probabilities["data"], dtype=np.float32),
        expected.probabilities.astype(np.float32),
    )
    metrics = api.get("/metrics").text
    assert (
        f'model_api_model_info{{alias="champion",name="model-api",'
        f'run_id="{store.result.run.run_id}",version="{store.result.version}"}} 1.0'
    ) in metrics
    rows = 2 * len(validation)
    assert (
        f'model_api_predictions_total{{model_version="{store.result.version}"}} {rows}.0' in metrics
    )


def test_every_mlflow_input_form_gives_the_same_answer(api: httpx.Client, validation: Any) -> None:
    frame = validation.iloc[:5]
    split = {"dataframe_split": frame.to_dict(orient="split")}
    expected = api.post("/invocations", json=split).json()
    records = frame.to_dict(orient="records")
    columns = frame.to_dict(orient="list")
    for body in ({"dataframe_records": records}, {"instances": records}, {"inputs": columns}):
        assert api.post("/invocations", json=body).json() == expected
    csv = api.post("/invocations", content=frame.to_csv(), headers={"content-type": "text/csv"})
    assert csv.json() == expected
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    response = api.post(
        "/invocations",
        content=parquet.getvalue(),
        headers={"content-type": "application/vnd.apache.parquet"},
    )
    assert response.json() == expected


def test_malformed_requests_get_mlflows_status_and_error_code(
    api: httpx.Client, validation: Any
) -> None:
    """The recorded MLflow 3.17 answers (reference note, section 7) for the same bodies."""
    names = list(validation.columns)
    row = validation.iloc[0].tolist()
    cases: list[tuple[dict[str, Any] | bytes, int, str]] = [
        ({"inputs": [row]}, 400, "INVALID_PARAMETER_VALUE"),  # bare list, no names
        ({"dataframe_split": {"data": [row]}}, 400, "INVALID_PARAMETER_VALUE"),  # no columns
        ({"dataframe_split": {"columns": names[:29], "data": [row[:29]]}}, 400,
         "INVALID_PARAMETER_VALUE"),  # 29 columns
        ({"dataframe_split": {"columns": names, "data": [row[:29]]}}, 400, "BAD_REQUEST"),
        ({"dataframe_split": {"columns": names, "data": [["abc", *row[1:]]]}}, 400, "BAD_REQUEST"),
        ({"dataframe_split": {"columns": names, "data": [row], "foo": 1}}, 400, "BAD_REQUEST"),
        ({"instances": [row], "inputs": [row]}, 400, "BAD_REQUEST"),  # two keys
        ({"data": [row]}, 400, "BAD_REQUEST"),  # MLflow 1.x body
        (b'{"dataframe_split": {"columns": [', 400, "BAD_REQUEST"),  # truncated
        (b"[1, 2]", 400, "BAD_REQUEST"),  # top-level list
        (b"", 400, "BAD_REQUEST"),
    ]  # fmt: skip
    for body, status, code in cases:
        if isinstance(body, bytes):
            response = api.post(
                "/invocations", content=body, headers={"content-type": "application/json"}
            )
        else:
            response = api.post("/invocations", json=body)
        assert (response.status_code, response.json()["error_code"]) == (status, code), body
    ints = {"dataframe_split": {"columns": names, "data": [[int(v) for v in row]]}}
    assert api.post("/invocations", json=ints).status_code == 200  # MLflow: 200
    for content_type in ("text/plain", "application/json; charset=latin-1",
                         "application/json; format=pandas-split"):  # fmt: skip
        response = api.post("/invocations", content=b"{}", headers={"content-type": content_type})
        assert response.status_code == 415
    assert api.get("/invocations").status_code == 405
    assert api.get("/nope").status_code == 404
    assert api.get("/ping").status_code == 200 and api.get("/health").status_code == 200


def test_mlflows_own_scoring_client_works_unchanged(api: httpx.Client, validation: Any) -> None:
    """MLflow's ``ScoringServerClient`` (what its CLI and tests use against
    ``mlflow models serve``) against this server: ping, version, and invoke with a DataFrame."""
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    port = int(str(api.base_url).rsplit(":", 1)[1].rstrip("/"))
    client = ScoringServerClient("127.0.0.1", port)
    client.wait_server_ready(timeout=10)
    assert client.get_version()
    frame = validation.iloc[:7]
    expected = api.post("/invocations", json={"dataframe_records": frame.to_dict("records")})
    response = client.invoke(frame)
    assert response.get_predictions().iloc[:, 0].tolist() == expected.json()["predictions"]
    with_params = client.invoke(frame, params={"unused": 1})
    assert with_params.get_predictions().iloc[:, 0].tolist() == expected.json()["predictions"]
