"""The inference shortcut answers exactly as FastAPI's router would, on every kind of answer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.app import create_app
from service.routes.http import InferenceShortcut
from tests.support.fakes import FEATURES, ROW, LinearPredictor
from tests.support.serving import binary_request, settings

# (method, path, content type, body, extra headers): answers of every kind, inference routes
# or not, matching or not (a trailing slash, a nested name, another method)
Request = tuple[str, str, str, bytes, dict[str, str]]
V2 = '{"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": %s}]}'
ROW_JSON = "[" + ", ".join(repr(value) for value in ROW) + "]"
V2_SHORT = (V2 % "[1]").encode()  # 30 columns, one value
SPLIT = orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": [ROW]}})
BINARY, BINARY_HEADERS = binary_request(np.array([ROW]))
REQUESTS: list[Request] = [
    ("POST", "/invocations", "application/json", SPLIT, {}),
    ("POST", "/invocations", "application/json", b'{"instances": [%s]}' % ROW_JSON.encode(), {}),
    ("POST", "/invocations", "application/json", b'{"instances": "x"}', {}),  # 400
    ("POST", "/invocations", "text/plain", b"1,2", {}),  # 415
    ("POST", "/v2/models/model-api/infer", "application/json", (V2 % ROW_JSON).encode(), {}),
    ("POST", "/v2/models/model-api/versions/7/infer", "application/json", V2_SHORT, {}),  # 400
    ("POST", "/v2/models/model-api/versions/8/infer", "application/json", b"{}", {}),  # 404
    ("POST", "/v2/models/other/infer", "application/json", b"{}", {}),  # 404
    ("POST", "/v2/models/model-api/infer", "application/json", b"{not json", {}),  # 400
    (
        "POST",
        "/v2/models/model-api/infer",
        BINARY_HEADERS["content-type"],
        BINARY,
        {"inference-header-content-length": BINARY_HEADERS["inference-header-content-length"]},
    ),
    ("POST", "/v2/models/model-api/infer/", "application/json", b"{}", {}),  # no such route
    ("POST", "/v2/models/a/b/infer", "application/json", b"{}", {}),  # no such route
    ("GET", "/v2/models/model-api/infer", "application/json", b"", {}),  # 405
    ("POST", "/metrics", "application/json", b"{}", {}),  # 405, not an inference route
]
_VARYING = re.compile(rb'"id":"[^"]*"')  # generated response ids differ between the two apps


def without_shortcut(app: FastAPI) -> FastAPI:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not InferenceShortcut]
    return app


@pytest.fixture
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    fast = create_app(settings(), LinearPredictor())
    assert any(m.cls is InferenceShortcut for m in fast.user_middleware)
    full = without_shortcut(create_app(settings(), LinearPredictor()))
    with (
        TestClient(fast, raise_server_exceptions=False) as a,
        TestClient(full, raise_server_exceptions=False) as b,
    ):
        yield a, b


def answer(client: TestClient, request: Request) -> tuple[int, dict[str, str], bytes]:
    method, path, content_type, body, headers = request
    response = client.request(
        method, path, content=body, headers={"content-type": content_type, **headers}
    )
    kept = {
        name: value
        for name, value in response.headers.items()
        if name not in ("x-request-id", "x-prediction-id", "date")
    }
    return response.status_code, kept, _VARYING.sub(b'"id":"*"', response.content)


def test_every_answer_is_the_routers(clients: tuple[TestClient, TestClient]) -> None:
    fast, full = clients
    statuses = set()
    for request in REQUESTS:
        ours = answer(fast, request)
        assert ours == answer(full, request), request[:2]
        statuses.add(ours[0])
    assert statuses == {200, 400, 404, 405, 415}


def test_metrics_name_the_route_template(clients: tuple[TestClient, TestClient]) -> None:
    fast, full = clients

    def series(client: TestClient) -> list[str]:
        for request in REQUESTS:
            answer(client, request)
        text = client.get("/metrics").text
        return sorted(
            re.sub(r" [0-9.e+-]+$", "", line)
            for line in text.splitlines()
            if line.startswith("model_api_requests_total{")
        )

    ours = series(fast)
    assert ours == series(full)
    assert any('route="/v2/models/{model_name}/versions/{model_version}/infer"' in s for s in ours)


def test_an_unexpected_error_is_the_same_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: LinearPredictor, features: object) -> object:
        raise RuntimeError("the model broke")

    answers = []
    for build in (lambda app: app, without_shortcut):
        predictor = LinearPredictor()
        app = build(create_app(settings(), predictor))
        with TestClient(app, raise_server_exceptions=False) as client:
            monkeypatch.setattr(LinearPredictor, "predict", broken)
            answers.append(answer(client, REQUESTS[0]))
            monkeypatch.undo()
    assert answers[0] == answers[1]
    assert answers[0][0] == 500
