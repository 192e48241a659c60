"""``gitops bump --tag T --resolve-digest``: the digest from the registry's OCI distribution API.

The registry is a stand-in on 127.0.0.1 that follows the documented shapes: the distribution
spec's ``HEAD/GET /v2/<name>/manifests/<reference>`` (``Docker-Content-Digest``, 404 with a
``MANIFEST_UNKNOWN`` error body) behind the token authentication spec (``401`` with a
``WWW-Authenticate: Bearer realm,service,scope`` challenge; the realm answers ``{"token": …}``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.gitrepo import Remote, git
from tests.support.net import serving
from tools.cli import main
from tools.errors import UserError
from tools.release.registry import MANIFEST_TYPES, repository, resolve_digest

pytestmark = pytest.mark.integration

SERVICE = "registry.test"
STAGING = "overlays/staging/kustomization.yaml"
INDEX = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPES[0],
        "manifests": [
            {
                "mediaType": MANIFEST_TYPES[1],
                "digest": "sha256:" + "a" * 64,
                "size": 1234,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
).encode()
INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX).hexdigest()


class Registry(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.manifests = {("org/app", "1.2.0"): INDEX}
        self.tokens_issued: list[dict[str, list[str]]] = []
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self.digest_header = True
        self.login: tuple[str, str] | None = None  # credentials the token service requires

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Registry

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(
        self, status: int, code: str, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()
        self._send(status, body, {"Content-Type": "application/json", **(extra or {})}, head)

    def _token(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        if self.server.login is not None:
            expected = base64.b64encode(":".join(self.server.login).encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                return self._error(401, "UNAUTHORIZED", False)
        self.server.tokens_issued.append(query)
        token = f"tok-{query.get('scope', [''])[0]}"
        self._send(200, json.dumps({"token": token}).encode(), {}, False)

    def _manifest(self, head: bool) -> None:
        path = urlsplit(self.path).path
        self.server.requests.append((self.command, path, self.headers.get("Authorization")))
        if not path.startswith("/v2/") or "/manifests/" not in path:
            return self._error(404, "NAME_UNKNOWN", head)
        name, _, reference = path.removeprefix("/v2/").partition("/manifests/")
        scope = f"repository:{name}:pull"
        if self.headers.get("Authorization") != f"Bearer tok-{scope}":
            realm = f"http://{self.server.host}/token"
            challenge = f'Bearer realm="{realm}",service="{SERVICE}",scope="{scope}"'
            return self._error(401, "UNAUTHORIZED", head, {"WWW-Authenticate": challenge})
        body = self.server.manifests.get((name, reference))
        if body is None:
            return self._error(404, "MANIFEST_UNKNOWN", head)
        assert MANIFEST_TYPES[0] in self.headers.get("Accept", "")
        headers = {"Content-Type": MANIFEST_TYPES[0]}
        if self.server.digest_header:
            headers["Docker-Content-Digest"] = "sha256:" + hashlib.sha256(body).hexdigest()
        self._send(200, body, headers, head)

    def do_HEAD(self) -> None:
        self._manifest(head=True)

    def do_GET(self) -> None:
        if self.path.startswith("/token"):
            return self._token()
        self._manifest(head=False)


@pytest.fixture
def registry() -> Iterator[Registry]:
    with serving(Registry()) as server:
        yield server


def test_repository_names_as_docker_reads_them() -> None:
    assert repository("ghcr.io/org/app").base == "https://ghcr.io"
    assert repository("ghcr.io/org/app").path == "org/app"
    assert repository("nginx").path == "library/nginx"
    assert repository("nginx").base == "https://registry-1.docker.io"
    assert repository("org/app").path == "org/app"
    assert repository("localhost:5000/app").base == "http://localhost:5000"


def test_digest_through_token_authentication(registry: Registry) -> None:
    assert resolve_digest(f"{registry.host}/org/app", "1.2.0", environ={}) == INDEX_DIGEST
    (issued,) = registry.tokens_issued
    assert issued == {"scope": ["repository:org/app:pull"], "service": [SERVICE]}
    methods = [(method, auth) for method, _, auth in registry.requests]
    assert methods == [("HEAD", None), ("HEAD", "Bearer tok-repository:org/app:pull")]


def test_without_the_digest_header_the_manifest_is_hashed(registry: Registry) -> None:
    registry.digest_header = False
    assert resolve_digest(f"{registry.host}/org/app", "1.2.0", environ={}) == INDEX_DIGEST
    assert [method for method, _, _ in registry.requests][-1] == "GET"


def test_credentials_go_to_the_token_service(registry: Registry) -> None:
    registry.login = ("bot", "s3cret")
    with pytest.raises(UserError) as refused:
        resolve_digest(f"{registry.host}/org/app", "1.2.0", environ={})
    assert "token service" in refused.value.message and "REGISTRY_USERNAME" in (
        refused.value.hint or ""
    )
    env = {"REGISTRY_USERNAME": "bot", "REGISTRY_PASSWORD": "s3cret"}
    assert resolve_digest(f"{registry.host}/org/app", "1.2.0", environ=env) == INDEX_DIGEST


def test_unknown_tag_and_unreachable_registry_are_clear_errors(registry: Registry) -> None:
    with pytest.raises(UserError, match=r"the registry has no .*/org/app:9\.9\.9"):
        resolve_digest(f"{registry.host}/org/app", "9.9.9", environ={})
    with pytest.raises(UserError, match="cannot reach the registry"):
        resolve_digest("127.0.0.1:1/org/app", "1.2.0", environ={}, timeout=5)


def test_bump_pins_the_resolved_digest_beside_the_tag(
    registry: Registry, remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    image = f"{registry.host}/org/app"
    registry.manifests[("org/app", "1.1.0")] = INDEX
    overlay = remote.work / STAGING
    overlay.write_text(overlay.read_text().replace("ghcr.io/example-org/model-api", image))
    git(remote.work, "commit", "-qam", "staging from the local registry")
    git(remote.work, "push", "-q", "origin", "HEAD:main")
    args = ["bump", "--repo-dir", str(remote.work), "--image", image, "--env", "staging"]
    assert main([*args, "--tag", "1.1.0", "--resolve-digest", "--no-pr"]) == 0
    assert f"resolved {image}:1.1.0 to {INDEX_DIGEST}" in capsys.readouterr().out
    assert 'newTag: "1.1.0"' in remote.show(STAGING)
    assert f"digest: {INDEX_DIGEST}" in remote.show(STAGING)
    assert main([*args, "--digest", INDEX_DIGEST, "--resolve-digest", "--dry-run"]) == 2
    assert "--resolve-digest needs a --tag and no --digest" in capsys.readouterr().err
