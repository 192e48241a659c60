"""The wired app in-process (Starlette's TestClient): bearer token, request id, access log."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from service import auth
from service.app import create_app
from tests.support.fakes import ROW, LinearPredictor
from tests.support.serving import settings, split_body

# --- bearer token -----------------------------------------------------------------------------


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("s3cret-token\n")
    return path


def test_bearer_token_guards_inference_only(
    make_client: Callable[..., TestClient], token_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(token_file=token_file)
    infer = {"inputs": [{"name": "i", "shape": [1, 30], "datatype": "FP64", "data": ROW}]}
    for path, document in (("/invocations", split_body()), ("/v2/models/model-api/infer", infer)):
        missing = client.post(path, json=document)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post(path, json=document, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = client.post(path, json=document, headers={"authorization": "Basic czNjcmV0"})
        assert basic.status_code == 401
        good = client.post(path, json=document, headers={"authorization": "Bearer s3cret-token"})
        assert good.status_code == 200
    for open_path in ("/ping", "/v2/health/ready", "/metrics", "/v2/models/model-api"):
        assert client.get(open_path).status_code == 200
    # A rotated Secret is picked up without a restart.
    monkeypatch.setattr(auth, "_RECHECK_SECONDS", 0.0)
    token_file.write_text("rotated")
    os.utime(token_file, (1, 1))
    headers = {"authorization": "Bearer rotated"}
    assert client.post("/invocations", json=split_body(), headers=headers).status_code == 200


def test_token_file_problems_fail_at_startup(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    with pytest.raises(auth.TokenError, match="empty"):
        create_app(settings(token_file=empty), LinearPredictor())
    with pytest.raises(auth.TokenError, match="cannot read token file"):
        create_app(settings(token_file=tmp_path / "absent"), LinearPredictor())


# --- request id and access log ----------------------------------------------------------------


def test_request_id_and_access_log(client: TestClient, capfd: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("model_api.access").setLevel(logging.INFO)
    capfd.readouterr()
    echoed = client.post("/invocations", json=split_body(), headers={"x-request-id": "abc-1"})
    generated = client.get("/v2/models/model-api/ready")
    hostile = client.get("/ping", headers={"x-request-id": "a b;" * 40})
    assert echoed.headers["x-request-id"] == "abc-1"
    assert len(generated.headers["x-request-id"]) == 16
    assert hostile.headers["x-request-id"] != "a b;" * 40
    lines = [orjson.loads(line) for line in capfd.readouterr().out.splitlines()]
    lines = [line for line in lines if line["logger"] == "model_api.access"]
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == "abc-1" and first["route"] == "/invocations"
    assert first["status"] == 200 and first["model_version"] == "7" and first["latency_ms"] > 0
    assert first["level"] == "info" and first["ts"].endswith("Z")
    assert lines[1]["route"] == "/v2/models/{model_name}/ready"
    logging.getLogger("model_api.access").setLevel(logging.WARNING)
    client.get("/ping")
    assert "model_api.access" not in capfd.readouterr().out
    logging.getLogger("model_api.access").setLevel(logging.NOTSET)
