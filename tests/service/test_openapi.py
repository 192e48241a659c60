"""``/openapi.json`` says what the server does: the document's shape, then schemathesis with
every check against a real ``model-api serve`` (the fake-predictor server) on 127.0.0.1.

The schemathesis run holds the server to the document both ways: every answer has a documented
status, content type, headers and body schema, schema-valid requests are accepted and
schema-violating ones refused, undocumented methods get 405 with ``Allow``, and with a token
configured the secured routes refuse requests without it. Bounded: few examples per operation,
deterministic generation, no shrinking, a subprocess under a time limit and an address-space cap.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openapi_spec_validator
import pytest

from service.app import create_app, data_plane
from tests.support.fakes import FEATURES, LinearPredictor
from tests.support.paths import REPO_ROOT
from tests.support.serving import Server, settings, split_body, start_server

TOKEN = "openapi-test-token"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = 5
MLFLOW_PATHS = ("/ping", "/health", "/version", "/invocations", "/metrics", "/feedback")


def document(tmp_path: Path, token_file: Path | None = None) -> dict[str, Any]:
    store = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    app = create_app(settings(token_file=token_file, feedback_store=store), LinearPredictor())
    data_plane(app).load("models:/model-api@champion")
    doc: dict[str, Any] = app.openapi()
    return doc


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return document(tmp_path_factory.mktemp("doc"))


@pytest.mark.parametrize("secured", [False, True])
@pytest.mark.parametrize("loaded", [False, True])
def test_the_document_is_valid_openapi(tmp_path: Path, secured: bool, loaded: bool) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    store = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    app = create_app(
        settings(token_file=token_file if secured else None, feedback_store=store),
        LinearPredictor(),
    )
    if loaded:
        data_plane(app).load("models:/model-api@champion")
    openapi_spec_validator.validate(app.openapi())


def test_no_fastapi_validation_error_anywhere(doc: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, method, operation in operations(doc):
        assert "422" not in operation["responses"], f"{method} {path}"


def test_parameters_are_the_path_template(doc: dict[str, Any]) -> None:
    for path, _, operation in operations(doc):
        documented = [(p["name"], p["in"], p["required"]) for p in operation.get("parameters", [])]
        assert documented == [(n, "path", True) for n in re.findall(r"{(\w+)}", path)], path
    params = doc["paths"]["/v2/models/{model_name}/infer"]["post"]["parameters"]
    assert [p["name"] for p in params] == ["model_name"]  # no model_version query parameter


def test_path_parameters_name_the_served_model(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["ModelName"]["enum"] == ["model-api"]
    assert schemas["ModelVersion"]["enum"] == ["7"]


def test_errors_in_the_shape_of_the_route_family(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        expected = "MlflowError" if path in MLFLOW_PATHS else "OipError"
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                continue
            json_body = response["content"].get("application/json")
            if json_body is not None:
                assert json_body["schema"] == {"$ref": f"#/components/schemas/{expected}"}, (
                    f"{method} {path} {status}"
                )
    error = doc["components"]["schemas"]["MlflowError"]
    assert error["required"] == ["error_code", "message"]
    assert doc["components"]["schemas"]["OipError"]["required"] == ["error"]


def test_statuses_of_the_inference_routes(doc: dict[str, Any]) -> None:
    invocations = doc["paths"]["/invocations"]["post"]
    assert set(invocations["responses"]) == {
        "200", "400", "408", "413", "415", "431", "500", "503",
    }  # fmt: skip
    infer = doc["paths"]["/v2/models/{model_name}/infer"]["post"]
    assert set(infer["responses"]) == {
        "200", "400", "404", "408", "413", "415", "431", "500", "503",
    }  # fmt: skip
    assert "security" not in infer and "securitySchemes" not in doc["components"]
    readiness = doc["paths"]["/v2/health/ready"]["get"]["responses"]
    assert set(readiness) == {"200", "408", "431", "503"}
    # Only the HTTP layer's plain text on a route without a body.
    assert set(readiness["408"]["content"]) == {"text/plain"}


def test_request_and_response_bodies(doc: dict[str, Any]) -> None:
    invocations = doc["paths"]["/invocations"]["post"]
    assert set(invocations["requestBody"]["content"]) == {
        "application/json", "text/csv", "application/vnd.apache.parquet",
    }  # fmt: skip
    ok = invocations["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["required"] == ["predictions"]
    infer = doc["paths"]["/v2/models/{model_name}/infer"]["post"]
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
    assert "Inference-Header-Content-Length" in infer["requestBody"]["description"]
    answer = infer["responses"]["200"]
    assert set(answer["content"]) == {"application/json", "application/octet-stream"}
    assert "Inference-Header-Content-Length" in answer["headers"]
    assert answer["headers"]["X-Prediction-ID"]["required"]
    assert invocations["responses"]["200"]["headers"]["X-Prediction-ID"]["required"]
    feedback = doc["paths"]["/feedback"]["post"]
    assert set(feedback["responses"]) == {"202", "400", "404", "408", "413", "431", "503"}
    labels = doc["components"]["schemas"]["FeedbackRequest"]["properties"]["labels"]
    assert labels["items"]["enum"] == [0, 1]
    row = doc["components"]["schemas"]["Row"]
    assert row["required"] == list(FEATURES)
    for path in ("/v2", "/v2/health/live", "/v2/models/{model_name}"):
        content = doc["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"]["required"], path


def test_a_token_file_secures_the_inference_routes(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    doc = document(tmp_path, token_file)
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, method, operation in operations(doc):
        secured = method == "post"
        assert ("security" in operation) is secured, f"{method} {path}"
        assert ("401" in operation["responses"]) is secured, f"{method} {path}"
        if secured:
            assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"]


def test_the_feedback_link_works(server: Server) -> None:
    """What the link from /invocations to /feedback says a client can do, done."""
    doc = httpx.get(f"{server.url}/openapi.json").json()
    link = doc["paths"]["/invocations"]["post"]["responses"]["200"]["links"]["feedback"]
    assert doc["paths"]["/feedback"]["post"]["operationId"] == link["operationId"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    predicted = httpx.post(f"{server.url}/invocations", json=split_body(3), headers=auth)
    assert predicted.status_code == 200
    assert link["requestBody"] == {
        "prediction_id": "$response.header.X-Prediction-ID",
        "labels": "$response.body#/predictions",
    }
    body = {
        "prediction_id": predicted.headers["x-prediction-id"],
        "labels": predicted.json()["predictions"],
    }
    answer = httpx.post(f"{server.url}/feedback", json=body, headers=auth)
    assert answer.status_code == 202, answer.text
    assert answer.json()["rows"] == 3


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("openapi")
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    env = {
        "MODEL_API_TOKEN_FILE": str(token_file),
        "MODEL_API_LOG_LEVEL": "warning",
        "MODEL_API_FEEDBACK_STORE": f"sqlite:///{tmp_path / 'feedback.sqlite'}",
    }
    server = start_server(tmp_path, env=env)
    yield server
    server.terminate()
    server.wait()


def test_schemathesis_all_checks_pass(server: Server, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        "SCHEMATHESIS_HOOKS": "tests.support.openapi_hooks",
    }
    command = [
        str(SCHEMATHESIS), "run", f"{server.url}/openapi.json",
        "--checks", "all",
        "--header", f"Authorization: Bearer {TOKEN}",
        "--max-examples", str(EXAMPLES),
        "--phases", "examples,coverage,fuzzing",
        "--generation-deterministic", "--no-shrink", "--no-color",
        # One worker: schemathesis' workers are threads, and hypothesis describes its
        # strategies with ast.parse, which CPython 3.11.7 (this machine's Python) can
        # fail from two threads at once with "SystemError: AST constructor recursion
        # depth mismatch" (the shared AST state of python/cpython#106905). It failed CI once.
        "--workers", "1", "--request-timeout", "10",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
        preexec_fn=_limits,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    tested = sum(1 for _ in operations(document(tmp_path)))
    assert f"Tested: {tested}" in output, output[-3000:]
    assert "failed" not in output and " passed" in output, output[-3000:]
