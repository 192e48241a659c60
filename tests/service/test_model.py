"""service.model: URI forms, signature and registry facts, ONNX vs scikit-learn runtime, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from service.model import SklearnPredictor, fetch_model, load_predictor
from service.predictor import ModelLoadError, Predictor
from tests.support.trained_model import TrainedStore, trained_store


@pytest.fixture(scope="module")
def store() -> TrainedStore:
    return trained_store()


def rows(count: int) -> np.ndarray:
    from training.train import load_dataset

    return load_dataset().x_valid.to_numpy(np.float64)[:count]


def test_alias_uri_resolves_registry_facts(store: TrainedStore) -> None:
    predictor = load_predictor("models:/model-api@champion", tracking_uri=store.tracking_uri)
    predictor.load()

    assert isinstance(predictor, Predictor)
    info = predictor.info
    assert (info.name, info.version, info.alias) == ("model-api", store.result.version, "champion")
    assert info.run_id == store.result.run.run_id
    assert info.uri == "models:/model-api@champion"
    assert info.runtime == "onnx"
    assert len(predictor.columns) == 30
    assert predictor.columns[0].name == "mean radius"
    assert {c.type for c in predictor.columns} == {"double"}


def test_version_and_run_uris(store: TrainedStore) -> None:
    by_version = load_predictor("models:/model-api/1", tracking_uri=store.tracking_uri)
    assert (by_version.info.version, by_version.info.alias) == ("1", "")
    run_uri = f"runs:/{store.result.run.run_id}/model"
    by_run = load_predictor(run_uri, tracking_uri=store.tracking_uri)
    by_run.load()
    assert by_run.info.run_id == store.result.run.run_id
    assert by_run.predict(rows(3)).labels.shape == (3,)


def test_prediction_shapes_and_types(store: TrainedStore) -> None:
    predictor = load_predictor(str(store.model_dir))
    predictor.load()
    prediction = predictor.predict(rows(5))
    assert prediction.labels.dtype == np.int64 and prediction.labels.shape == (5,)
    assert prediction.probabilities.dtype == np.float64
    assert np.all((prediction.probabilities >= 0) & (prediction.probabilities <= 1))
    assert set(prediction.labels.tolist()) <= {0, 1}
    # the label is the more probable class
    np.testing.assert_array_equal(prediction.labels, (prediction.probabilities > 0.5).astype(int))


def test_fetched_directory_keeps_registry_facts(store: TrainedStore) -> None:
    source = json.loads((store.model_dir / "model-source.json").read_text())
    assert source["alias"] == "champion" and source["version"] == store.result.version
    predictor = load_predictor(str(store.model_dir))
    assert (predictor.info.name, predictor.info.version) == ("model-api", store.result.version)


def test_local_onnx_directory_needs_neither_mlflow_nor_sklearn(store: TrainedStore) -> None:
    script = (
        "import sys\n"
        "from service.model import load_predictor\n"
        f"p = load_predictor({str(store.model_dir)!r}); p.load()\n"
        "import numpy as np; p.predict(np.zeros((1, 30)))\n"
        "print(sorted(m for m in ('mlflow', 'sklearn', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.strip() == "[]"


def test_sklearn_fallback_without_onnx(store: TrainedStore, tmp_path: Path) -> None:
    copy = tmp_path / "no-onnx"
    shutil.copytree(store.model_dir, copy)
    shutil.rmtree(copy / "extra_files")
    onnx = load_predictor(str(store.model_dir))
    fallback = load_predictor(str(copy))
    onnx.load()
    fallback.load()

    assert isinstance(fallback, SklearnPredictor) and fallback.info.runtime == "sklearn"
    a, b = onnx.predict(rows(20)), fallback.predict(rows(20))
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=0, atol=1e-5)


def test_predict_before_load_is_refused(store: TrainedStore) -> None:
    with pytest.raises(RuntimeError, match="before load"):
        load_predictor(str(store.model_dir)).predict(rows(1))


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("/nonexistent/model", "model directory /nonexistent/model does not exist"),
        ("models:/no-such-model@champion", "cannot resolve models:/no-such-model@champion"),
        ("models:/model-api/999", "cannot resolve models:/model-api/999"),
    ],
)
def test_unloadable_uris_raise_model_load_error(
    store: TrainedStore, uri: str, message: str
) -> None:
    with pytest.raises(ModelLoadError, match=message):
        load_predictor(uri, tracking_uri=store.tracking_uri)


def test_directory_without_mlmodel(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not an MLflow model directory"):
        load_predictor(str(tmp_path))


def test_corrupt_onnx_fails_at_load(store: TrainedStore, tmp_path: Path) -> None:
    copy = tmp_path / "corrupt"
    shutil.copytree(store.model_dir, copy)
    (copy / "extra_files" / "model.onnx").write_bytes(b"not an onnx graph")
    predictor = load_predictor(str(copy))
    with pytest.raises(ModelLoadError, match="cannot load model"):
        predictor.load()


def test_signature_without_columns_is_refused(store: TrainedStore, tmp_path: Path) -> None:
    copy = tmp_path / "tensor"
    shutil.copytree(store.model_dir, copy)
    mlmodel = yaml.safe_load((copy / "MLmodel").read_text())
    mlmodel["signature"]["inputs"] = json.dumps(
        [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 30]}}]
    )
    (copy / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(ModelLoadError, match="named columns"):
        load_predictor(str(copy))


def test_fetch_refuses_to_overwrite(store: TrainedStore) -> None:
    with pytest.raises(ModelLoadError, match="already exists"):
        fetch_model("models:/model-api@champion", store.model_dir, tracking_uri=store.tracking_uri)


def test_unreachable_tracking_server_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.net import free_port

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ModelLoadError) as caught:
        load_predictor("models:/model-api@champion", tracking_uri=dead)
    assert str(caught.value) == (
        f"cannot resolve models:/model-api@champion: "
        f"cannot reach the MLflow tracking server at {dead}"
    )
