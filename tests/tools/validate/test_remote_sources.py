"""``--crd-from-cluster`` through the shipped kubectl, and ``--opa-url`` through OPA's REST API.

Neither a Kubernetes API server nor an OPA server can be installed from the package registries
this project reaches, so each is a stand-in on 127.0.0.1 that follows the documented shapes:

- the API server answers ``GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions`` with a
  ``CustomResourceDefinitionList`` of the shared CRD files and checks the kubeconfig's bearer
  token (401 ``Status`` otherwise). The client is the real kubectl.
- the OPA server keeps what ``PUT /v1/policies/{id}`` and ``PUT /v1/data/{path}`` upload and
  answers ``POST /v1/data/{package}`` with ``{"result": ...}``, evaluated by a real Rego engine
  (regopy); a policy that does not compile is a 400 with OPA's error body.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import regopy
import yaml

from tests.support.net import serving
from tests.support.paths import REPO_ROOT
from tests.support.tls import self_signed, server_context
from tests.support.validate import DATA, GOOD, shared_crds
from tools.cli import main

pytestmark = pytest.mark.integration

TOKEN = "cluster-token"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls = tls
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.crds: list[dict[str, Any]] = []
        self.policies: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.seen: list[str] = []
        self.ca: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))


class _ApiServer(_Handler):
    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
            return self.answer(401, {**status, "message": "Unauthorized", "code": 401})
        if self.path.split("?")[0] != "/apis/apiextensions.k8s.io/v1/customresourcedefinitions":
            return self.answer(404, {"kind": "Status", "code": 404, "message": "not found"})
        items = [
            {k: v for k, v in c.items() if k not in ("apiVersion", "kind")}
            for c in self.server.crds
        ]
        self.answer(
            200,
            {
                "kind": "CustomResourceDefinitionList",
                "apiVersion": "apiextensions.k8s.io/v1",
                "metadata": {"resourceVersion": "1"},
                "items": items,
            },
        )


class _OpaServer(_Handler):
    def do_GET(self) -> None:
        self.answer(200, {}) if self.path == "/health" else self.answer(404, {"code": "not_found"})

    def do_PUT(self) -> None:
        body = self.body()
        if self.path.startswith("/v1/policies/"):
            source = body.decode()
            try:
                regopy.Interpreter().add_module("check.rego", source)
            except regopy.RegoError as exc:
                error = {"code": "rego_parse_error", "message": str(exc)[:200]}
                message = "error(s) occurred while compiling module(s)"
                return self.answer(
                    400, {"code": "invalid_parameter", "message": message, "errors": [error]}
                )
            self.server.policies[self.path.removeprefix("/v1/policies/")] = source
            return self.answer(200, {})
        if self.path.startswith("/v1/data/"):
            self.server.data[self.path.removeprefix("/v1/data/")] = json.loads(body)
            return self.answer(204)
        self.answer(404, {"code": "not_found", "message": "unknown path"})

    def do_POST(self) -> None:
        if not self.path.startswith("/v1/data/"):
            return self.answer(404, {"code": "not_found", "message": "unknown path"})
        request = json.loads(self.body())
        interpreter = regopy.Interpreter()
        for policy_id, source in self.server.policies.items():
            interpreter.add_module(policy_id, source)
        if self.server.data:
            interpreter.add_data(self.server.data)
        interpreter.set_input(request["input"])
        package = self.path.removeprefix("/v1/data/").replace("/", ".")
        output = json.loads(str(interpreter.query(f"data.{package}")))
        expressions = output.get("expressions") if isinstance(output, dict) else None
        self.answer(200, {"result": expressions[0]} if expressions else {})


def _serve(
    handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> Iterator[_Server]:
    with serving(_Server(handler, tls)) as server:
        yield server


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[_Server]:
    """Over TLS: kubectl sends a bearer token only to an https server."""
    cert, key = self_signed(tmp_path)
    server = _serve(_ApiServer, server_context(cert, key))
    for running in server:
        running.ca = cert
        yield running


@pytest.fixture
def opa_server() -> Iterator[_Server]:
    yield from _serve(_OpaServer)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository without CRD folders: schemas of custom resources come only from the cluster."""
    (tmp_path / ".gitops.toml").write_text("[validate]\npolicy-dirs = []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))  # nothing of the real ~/.kube
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return tmp_path


def kubeconfig(path: Path, server: _Server, token: str) -> Path:
    assert server.ca is not None
    cluster = {"server": server.url, "certificate-authority": str(server.ca)}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "test", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", "--no-cache", "-o", "json", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_crds_from_the_cluster_check_custom_resources(
    repo: Path,
    api_server: _Server,
    patched: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for path in sorted((shared_crds() / "argo-rollouts").glob("*.yaml")):
        api_server.crds.append(yaml.safe_load(path.read_text(encoding="utf-8")))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(repo / "kubeconfig", api_server, TOKEN)))
    manifest = patched["schema-crd-unknown-field"]

    code, out, err = run(capsys, "--ignore-missing-schemas", "--crd-from-cluster", str(manifest))
    assert code == 1, err
    findings = json.loads(out)["findings"]
    unknown = [f for f in findings if f["rule"] == "schema" and f["resource"]["kind"] == "Rollout"]
    assert unknown and "stepz" in unknown[0]["message"]
    assert not [f for f in findings if f["rule"] == "schema-missing" and "argoproj" in f["message"]]
    assert api_server.seen == [
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions?timeout=10s"
    ]
    assert not (repo / ".kube").exists()  # no discovery cache written


def test_a_refused_cluster_is_a_usage_error(
    repo: Path,
    api_server: _Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(repo / "kc", api_server, "wrong")))
    code, _, err = run(capsys, "--crd-from-cluster", str(GOOD))
    assert code == 2
    assert "--crd-from-cluster: cannot list CRDs:" in err and "Unauthorized" in err


def test_no_kubeconfig_never_falls_back_to_localhost(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(repo / "missing"))
    code, _, err = run(capsys, "--crd-from-cluster", str(GOOD))
    assert code == 2
    assert "no usable kubeconfig" in err and "hint: set KUBECONFIG" in err


def test_opa_server_reports_what_the_in_process_engine_reports(
    opa_server: _Server,
    patched: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(REPO_ROOT)  # this repository: its policies and data
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    broken = sorted(str(p) for p in (DATA / "broken").glob("policy-*.yaml"))
    broken += [str(path) for name, path in patched.items() if name.startswith("policy-")]
    common = ["--crd-dir", str(shared_crds()), "--no-rule-tests", *broken]

    code, local, _ = run(capsys, "--engine", "regopy", *common)
    assert code == 1
    code, remote, err = run(capsys, "--opa-url", opa_server.url, *common)
    assert code == 1, err
    assert json.loads(remote)["findings"] == json.loads(local)["findings"]
    assert {f["rule"] for f in json.loads(remote)["findings"]} >= {"deny_image_tag"}
    assert all(k.startswith("gitops-validate/") for k in opa_server.policies)
    assert "gitops" in opa_server.data  # policies/data.yaml uploaded as data.gitops


def test_a_policy_the_opa_server_rejects_is_a_usage_error(
    opa_server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "bad.rego").write_text("package main\n\ndeny contains msg if {\n", encoding="utf-8")
    args = ["--opa-url", opa_server.url, "--policy-dir", str(policies)]
    code, _, err = run(capsys, *args, str(GOOD))
    assert code == 2
    assert f"OPA server at {opa_server.url} is not usable" in err
    assert "HTTP 400: error(s) occurred while compiling module(s)" in err
