"""The ONNX graph stored at registration reproduces scikit-learn on the whole validation split.

Tolerance (see training/onnx_export.py): labels must be identical; the positive-class probability
may differ by at most 1e-5 (float32 summation of the trees' leaf probabilities in ONNX Runtime).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from service import onnx_runtime
from service.model import load_predictor
from tests.support.trained_model import trained_store
from training import onnx_export
from training.train import TrainConfig, build_estimator, load_dataset


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, Any]:
    data = load_dataset()
    return build_estimator(TrainConfig()).fit(data.x_train, data.y_train), data


def test_onnx_matches_sklearn_on_the_whole_validation_split(fitted: tuple[Any, Any]) -> None:
    estimator, data = fitted
    session = onnx_runtime.onnx_session(onnx_export.to_onnx_bytes(estimator, 30))
    features = data.x_valid.to_numpy(np.float64)

    labels, probabilities = onnx_export.run_onnx(session, features)

    assert len(labels) == len(data.y_valid) == 143
    np.testing.assert_array_equal(labels, estimator.predict(data.x_valid))
    np.testing.assert_allclose(
        probabilities,
        estimator.predict_proba(data.x_valid)[:, 1],
        rtol=0,
        atol=onnx_export.PROBABILITY_TOLERANCE,
    )
    assert onnx_export.check_parity(session, estimator, features).ok


def test_registered_model_serves_the_same_predictions_as_sklearn(fitted: tuple[Any, Any]) -> None:
    """The runtime that serves models:/model-api@champion agrees with its own sklearn flavour."""
    import mlflow.sklearn

    store = trained_store()
    _, data = fitted
    predictor = load_predictor(str(store.model_dir))
    predictor.load()
    sklearn_model = mlflow.sklearn.load_model(str(store.model_dir))

    prediction = predictor.predict(data.x_valid.to_numpy(np.float64))

    assert predictor.info.runtime == "onnx"
    np.testing.assert_array_equal(prediction.labels, sklearn_model.predict(data.x_valid))
    np.testing.assert_allclose(
        prediction.probabilities,
        sklearn_model.predict_proba(data.x_valid)[:, 1],
        rtol=0,
        atol=onnx_export.PROBABILITY_TOLERANCE,
    )


def test_parity_check_detects_a_different_model(fitted: tuple[Any, Any]) -> None:
    estimator, data = fitted
    other = build_estimator(TrainConfig(seed=1, n_estimators=3)).fit(data.x_train, data.y_train)
    session = onnx_runtime.onnx_session(onnx_export.to_onnx_bytes(other, 30))

    parity = onnx_export.check_parity(session, estimator, data.x_valid.to_numpy(np.float64))

    assert not parity.ok
    assert parity.max_abs_probability_diff > 0.01


class _PublicApiOnly:
    """An InferenceSession as a future onnxruntime might expose it: ``run`` but no ``_sess``."""

    def __init__(self, session: Any) -> None:
        self.run = session.run


def test_runner_falls_back_to_the_public_run_with_identical_outputs(
    fitted: tuple[Any, Any],
) -> None:
    estimator, data = fitted
    session = onnx_runtime.onnx_session(onnx_export.to_onnx_bytes(estimator, 30))
    features = data.x_valid.to_numpy(np.float64)
    fast_labels, fast_probabilities = onnx_runtime.OnnxRunner(session)(features)
    labels, probabilities = onnx_runtime.OnnxRunner(_PublicApiOnly(session))(features)
    np.testing.assert_array_equal(labels, fast_labels)
    np.testing.assert_array_equal(probabilities, fast_probabilities)
    assert labels.dtype == np.int64 and probabilities.dtype == np.float64
