"""CRDs from pinned URLs: fetched once over HTTP (a local server here), then cached."""

from __future__ import annotations

import http.server
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.net import free_port, serving
from tests.support.validate import WIDGET_SCHEMA, widget, widget_crd
from tools.validate import Report


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.path != "/crds/widget.yaml":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.body = yaml.safe_dump(widget_crd(WIDGET_SCHEMA)).encode()
    _Handler.hits = 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    with serving(httpd):
        yield f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.mark.integration
def test_crd_url_is_fetched_once_and_cached(
    server: str, tmp_path: Path, validate: Callable[..., Report]
) -> None:
    manifest = tmp_path / "w.yaml"
    manifest.write_text(yaml.safe_dump(widget({"prot": 80})), encoding="utf-8")
    url = f"{server}/crds/widget.yaml"
    cache = tmp_path / "cache"
    first = validate(
        manifest, crd_urls=[url], cache_dir=cache, policy_dirs=[], crd_dirs=[], allow_remote=True
    )
    assert [f.rule for f in first.findings] == ["schema"]
    second = validate(
        manifest, crd_urls=[url], cache_dir=cache, policy_dirs=[], crd_dirs=[], allow_remote=True
    )
    assert [f.rule for f in second.findings] == ["schema"]
    # Without --allow-remote the cached copy still serves; nothing is requested.
    offline = validate(
        manifest, crd_urls=[url], cache_dir=cache, policy_dirs=[], crd_dirs=[], allow_remote=False
    )
    assert [f.rule for f in offline.findings] == ["schema"]
    assert _Handler.hits == 1


@pytest.mark.integration
def test_crd_url_is_not_fetched_without_allow_remote(
    server: str, tmp_path: Path, validate: Callable[..., Report]
) -> None:
    manifest = tmp_path / "w.yaml"
    manifest.write_text(yaml.safe_dump(widget({"port": 80})), encoding="utf-8")
    url = f"{server}/crds/widget.yaml"
    report = validate(manifest, crd_urls=[url], cache_dir=tmp_path, policy_dirs=[], crd_dirs=[])
    warning = next(f for f in report.findings if f.rule == "crd-url")
    assert "no network request unless --allow-remote" in warning.message
    assert _Handler.hits == 0


@pytest.mark.integration
def test_unreachable_crd_url_is_a_warning(
    server: str, tmp_path: Path, validate: Callable[..., Report]
) -> None:
    manifest = tmp_path / "w.yaml"
    manifest.write_text(yaml.safe_dump(widget({"port": 80})), encoding="utf-8")
    report = validate(
        manifest,
        crd_urls=[f"{server}/missing.yaml"],
        cache_dir=tmp_path,
        policy_dirs=[],
        crd_dirs=[],
        allow_remote=True,
    )
    assert {(f.severity, f.rule) for f in report.findings} == {
        ("warning", "crd-url"),
        ("error", "schema-missing"),
    }
