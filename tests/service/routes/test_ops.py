"""Operations routes and the error handlers: unknown paths, wrong methods, unexpected errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from service.predictor import Prediction
from tests.support.fakes import LinearPredictor
from tests.support.serving import split_body


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
