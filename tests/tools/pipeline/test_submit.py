"""``gitops pipeline submit`` against a local server shaped like the Argo Server API.

The Argo Server runs inside the user's cluster and cannot run here, so this server implements
the one call the command makes, ``POST /api/v1/workflows/{namespace}/submit`` with a
``WorkflowSubmitRequest`` body, answering like Argo Server does: the created Workflow on
success, and grpc-gateway style errors (``{"code": 16, "message": ...}`` with 401, code 5 with
404, code 3 with 400) otherwise. It knows the templates committed under base/training.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from tests.support.net import free_port, serving
from tests.support.paths import REPO_ROOT
from tools import cli

pytestmark = pytest.mark.integration

TOKEN = "v2:test-token"  # the fake server's token


class ArgoServer(ThreadingHTTPServer):
    def __init__(self, port: int, templates: dict[str, dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.templates = templates  # "namespace/name" → WorkflowTemplate
        self.requests: list[dict[str, Any]] = []
        self.created = 0
        self.broken: bytes | None = None  # answer 200 with this body instead of a Workflow


class _Handler(BaseHTTPRequestHandler):
    server: ArgoServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": raw.decode()}
        )
        if self.server.broken is not None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.server.broken)))
            self.end_headers()
            self.wfile.write(self.server.broken)
            return None
        parts = self.path.split("/")  # /api/v1/workflows/{namespace}/submit
        if len(parts) != 6 or parts[1:4] != ["api", "v1", "workflows"] or parts[5] != "submit":
            return self._answer(404, {"code": 5, "message": "Not Found"})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._answer(401, {"code": 16, "message": "token not valid for running mode"})
        namespace = parts[4]
        try:
            request = json.loads(raw)
        except ValueError:
            return self._answer(400, {"code": 3, "message": "invalid character in request"})
        if request.get("resourceKind") != "WorkflowTemplate":
            kind = request.get("resourceKind")
            return self._answer(400, {"code": 3, "message": f"kind {kind!r} not supported"})
        name = request.get("resourceName", "")
        template = self.server.templates.get(f"{namespace}/{name}")
        if template is None:
            message = f'workflowtemplates.argoproj.io "{name}" not found'
            return self._answer(404, {"code": 5, "message": message})
        declared = {p["name"]: p.get("value") for p in template["spec"]["arguments"]["parameters"]}
        options = request.get("submitOptions", {})
        values = dict(declared)
        for pair in options.get("parameters", []):
            key, _, value = pair.partition("=")
            if key not in declared:
                return self._answer(400, {"code": 3, "message": f"unknown parameter {key}"})
            values[key] = value
        self.server.created += 1
        workflow_name = f"{options.get('generateName', name + '-')}x{self.server.created:04d}"
        self._answer(
            200,
            {
                "metadata": {
                    "name": workflow_name,
                    "namespace": namespace,
                    "uid": f"00000000-0000-0000-0000-{self.server.created:012d}",
                    "labels": {"workflows.argoproj.io/workflow-template": name},
                },
                "spec": {
                    "workflowTemplateRef": {"name": name},
                    "arguments": {
                        "parameters": [{"name": k, "value": v} for k, v in values.items()]
                    },
                },
                "status": {},
            },
        )


@pytest.fixture
def argo_server() -> Iterator[tuple[str, ArgoServer]]:
    committed = yaml.safe_load(
        (REPO_ROOT / "base/training/workflowtemplate.yaml").read_text(encoding="utf-8")
    )
    server = ArgoServer(free_port(), {f"ml-training/{committed['metadata']['name']}": committed})
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}", server


def test_submit_posts_a_workflow_submit_request_with_the_token(
    argo_server: tuple[str, ArgoServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, server = argo_server
    monkeypatch.setenv("ARGO_TOKEN", f"Bearer {TOKEN}")  # as `argo auth token` prints it
    code = cli.main(
        ["pipeline", "submit", "--argo-server", url, "-p", "label-noise=0.1", "-p", "seed=7"]
    )
    assert code == 0
    (request,) = server.requests
    assert request["path"] == "/api/v1/workflows/ml-training/submit"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request["body"]) == {
        "namespace": "ml-training",
        "resourceKind": "WorkflowTemplate",
        "resourceName": "model-training",
        "submitOptions": {
            "generateName": "model-training-",
            "parameters": ["label-noise=0.1", "seed=7"],
        },
    }
    out = capsys.readouterr().out
    assert "submitted workflow model-training-x0001 in ml-training" in out
    assert f"{url}/workflows/ml-training/model-training-x0001" in out


def test_submit_reports_the_servers_refusals(
    argo_server: tuple[str, ArgoServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, server = argo_server
    monkeypatch.delenv("ARGO_TOKEN", raising=False)

    assert cli.main(["pipeline", "submit", "--argo-server", url, "--token", "wrong"]) == 2
    err = capsys.readouterr().err
    assert "refused the submission (401): token not valid" in err

    args = ["pipeline", "submit", "--argo-server", url, "--token", TOKEN, "--namespace", "other"]
    assert cli.main(args) == 2
    assert '(404): workflowtemplates.argoproj.io "model-training" not found' in (
        capsys.readouterr().err
    )
    assert len(server.requests) == 2 and server.created == 0


def test_submit_checks_its_input_before_calling_the_server(
    argo_server: tuple[str, ArgoServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, server = argo_server
    monkeypatch.delenv("ARGO_TOKEN", raising=False)
    monkeypatch.delenv("ARGO_SERVER", raising=False)
    base = ["pipeline", "submit", "--argo-server", url, "--token", TOKEN]

    assert cli.main([*base, "-p", "learning-rate=3"]) == 2
    assert "unknown workflow parameter 'learning-rate'" in capsys.readouterr().err
    assert cli.main([*base, "-p", "seed"]) == 2
    assert "is not NAME=VALUE" in capsys.readouterr().err
    assert cli.main(["pipeline", "submit", "--argo-server", url]) == 2
    assert "no token for the Argo Server" in capsys.readouterr().err
    assert cli.main(["pipeline", "submit", "--token", TOKEN]) == 2
    assert "no Argo Server given" in capsys.readouterr().err
    assert cli.main(["pipeline", "submit", "--token", TOKEN, "--argo-server", "argo:2746"]) == 2
    assert "must start with http:// or https://" in capsys.readouterr().err
    assert server.requests == []

    closed = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["pipeline", "submit", "--argo-server", closed, "--token", TOKEN]) == 2
    assert f"cannot reach the Argo Server at {closed}" in capsys.readouterr().err


@pytest.mark.parametrize("body", [b"<html>proxy login</html>", b"[]", b'{"metadata": []}', b"{}"])
def test_an_answer_that_is_not_a_workflow_is_a_clear_error(
    argo_server: tuple[str, ArgoServer], capsys: pytest.CaptureFixture[str], body: bytes
) -> None:
    url, server = argo_server
    server.broken = body
    assert cli.main(["pipeline", "submit", "--argo-server", url, "--token", TOKEN]) == 2
    err = capsys.readouterr().err
    assert "unexpected answer from the Argo Server" in err and "Traceback" not in err


def test_a_server_that_never_answers_times_out(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        args = ["pipeline", "submit", "--argo-server", url, "--token", TOKEN, "--timeout", "0.5"]
        assert cli.main(args) == 2
    assert f"cannot reach the Argo Server at {url}" in capsys.readouterr().err
