"""MLServer's own request builders against ``model-api serve`` and against MLServer itself.

Both servers run on 127.0.0.1 on the same trained model: ``model-api serve`` on the champion's
MLflow directory (ONNX Runtime), and ``mlserver start`` with ``mlserver_sklearn.SKLearnModel`` on
that directory's ``model.pkl`` (scikit-learn), from .venv-mlserver (tests/support/mlserver.py).
One client script in that venv builds every request with MLServer's codecs
(``PandasCodec.encode_request``, ``NumpyRequestCodec.encode_request``), sends it to both servers
over HTTP and gRPC, and decodes both answers with MLServer's own response types and codecs.
The two servers must agree on every label; the probability of the positive class (our
``probability``, MLServer's ``predict_proba`` column 1) agrees within the 1e-5 that training
holds the ONNX graph to (docs/MODEL.md).
Deliberate differences (output names and types) are listed in docs/SERVICE.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import mlserver
from tests.support.bounded import run_bounded
from tests.support.net import free_port
from tests.support.serving import start_server
from tests.support.trained_model import trained_store

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parent / "clients" / "mlserver_codecs.py"
MODEL = "model-api"
ROWS = 6
OURS, THEIRS = "model-api", "mlserver"
# The outputs a request may name: the labels, and the class probabilities.
OUTPUTS = {OURS: ["predict", "probability"], THEIRS: ["predict", "predict_proba"]}


@dataclass
class Servers:
    ours_http: str
    ours_grpc: str
    theirs_http: str
    theirs_grpc: str
    columns: list[str]
    rows: list[list[float]]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    store = trained_store()
    from training.train import load_dataset

    frame = load_dataset().x_valid.head(ROWS)
    tmp_path = tmp_path_factory.mktemp("mlserver-parity")
    grpc_port = free_port()
    ours = start_server(
        tmp_path,
        module="service",
        args=("serve", "--grpc-port", str(grpc_port)),
        env={"MODEL_URI": str(store.model_dir), "HOME": str(tmp_path),
             "MODEL_API_DRAIN_SECONDS": "0"},
        ready_timeout=120,
    )  # fmt: skip
    try:
        repository = tmp_path_factory.mktemp("mlserver-repository")
        with mlserver.running(
            repository, model_dir=store.model_dir, name=MODEL, version=str(store.result.version)
        ) as theirs:
            yield Servers(
                ours.url,
                f"127.0.0.1:{grpc_port}",
                theirs.url,
                theirs.grpc,
                list(frame.columns),
                frame.to_numpy(np.float64).tolist(),
            )
    finally:
        ours.process.kill()
        ours.process.wait()


def run_codecs(servers: Servers, tmp_path: Path) -> list[dict[str, Any]]:
    job = {
        "servers": {
            OURS: {"http": servers.ours_http, "grpc": servers.ours_grpc},
            THEIRS: {"http": servers.theirs_http, "grpc": servers.theirs_grpc},
        },
        "model": MODEL,
        "columns": servers.columns,
        "rows": servers.rows,
        "outputs": OUTPUTS,
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    # gRPC reserves far more address space than it uses: cap resident memory, not the space.
    outcome = run_bounded(
        [str(mlserver.PYTHON), str(SCRIPT), str(path)],
        timeout=180,
        memory_mib=2048,
        address_space=False,
        env={"PYTHONPATH": ""},
    )
    assert outcome.returncode == 0 and not outcome.timed_out, str(outcome)
    results: list[dict[str, Any]] = json.loads(outcome.stdout)
    return results


@pytest.fixture(scope="module")
def answers(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return run_codecs(servers, tmp_path_factory.mktemp("mlserver-codecs"))


def key(result: dict[str, Any]) -> tuple[str, str, int, bool]:
    return (result["builder"], result["transport"], result["rows"], result["named_outputs"])


def by_server(answers: list[dict[str, Any]], server: str) -> dict[tuple[str, str, int, bool], Any]:
    return {key(r): r for r in answers if r["server"] == server}


def test_every_request_is_answered_by_both_servers(answers: list[dict[str, Any]]) -> None:
    expected = {
        (builder, transport, rows, named)
        for builder in ("pandas", "numpy")
        for transport in ("http", "grpc")
        for rows in (1, ROWS)
        for named in (False, True)
    }
    for server in (OURS, THEIRS):
        results = by_server(answers, server)
        assert set(results) == expected
        refused = [r for r in results.values() if "error" in r]
        assert refused == [], refused


def test_labels_agree_with_mlserver(answers: list[dict[str, Any]]) -> None:
    ours, theirs = by_server(answers, OURS), by_server(answers, THEIRS)
    for case, answer in ours.items():
        labels = answer["outputs"]["predict"]["values"]
        assert len(labels) == case[2], case
        assert labels == theirs[case]["outputs"]["predict"]["values"], case
        assert answer["outputs"]["predict"]["datatype"] == "INT64"
    # The rows are not all of one class, so agreeing means something.
    assert set(ours[("pandas", "http", ROWS, False)]["outputs"]["predict"]["values"]) == {0, 1}


def test_probabilities_agree_with_mlserver_to_float32(answers: list[dict[str, Any]]) -> None:
    ours, theirs = by_server(answers, OURS), by_server(answers, THEIRS)
    for case, answer in ours.items():
        if not case[3]:
            continue
        proba = theirs[case]["outputs"]["predict_proba"]
        assert proba["shape"] == [case[2], 2], case
        positive = np.array(proba["values"]).reshape(case[2], 2)[:, 1]
        probability = answer["outputs"]["probability"]
        assert probability["datatype"] == "FP32" and probability["shape"] == [case[2]]
        # Ours is summed in float32 by ONNX Runtime, theirs in float64 by scikit-learn: the
        # tolerance training holds the ONNX graph to (docs/MODEL.md).
        np.testing.assert_allclose(probability["values"], positive, rtol=0, atol=1e-5)


def test_answers_have_the_shapes_mlserver_clients_decode(answers: list[dict[str, Any]]) -> None:
    for answer in by_server(answers, OURS).values():
        builder, transport, rows, named = key(answer)
        assert answer["model_name"] == MODEL
        if named:
            assert answer["id"] == f"{builder}-{transport}-{rows}"
            assert list(answer["outputs"]) == OUTPUTS[OURS]
        else:
            # Without named outputs we answer both; MLServer's sklearn runtime only `predict`.
            assert answer["id"]
            assert list(answer["outputs"]) == OUTPUTS[OURS]
        assert answer["outputs"]["predict"]["shape"] == [rows]
    # MLServer's sklearn runtime answers `predict` as an [n, 1] column: a deliberate difference
    # (docs/SERVICE.md); NumpyCodec decodes both to the same labels.
    for answer in by_server(answers, THEIRS).values():
        assert answer["outputs"]["predict"]["shape"] == [answer["rows"], 1]
        if not answer["named_outputs"]:
            assert list(answer["outputs"]) == ["predict"]
