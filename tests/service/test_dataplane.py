"""The data plane: readiness before and after loading, the one warm-up, load failures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app, data_plane
from service.predictor import ModelLoadError, Prediction
from tests.support.fakes import LinearPredictor
from tests.support.serving import settings, split_body


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
