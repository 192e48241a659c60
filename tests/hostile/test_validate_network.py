"""``gitops validate`` never reaches the network unless ``--allow-remote`` is given.

A pull request must not be able to make CI fetch a URL: a kustomization that names a remote
resource (HTTP, git, ``github.com/...``, also as a component, base, patch file, generator file
or Helm chart) is refused with a finding before kustomize runs, and a CRD schema that ``$ref``s
a URL is a finding, not a request. Every case points at a real server on 127.0.0.1 that counts
the requests it gets, and runs the command in a bounded child process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.bounded import run_gitops
from tests.support.recording import RecordingServer, recording_server
from tests.support.validate import widget_crd

CONFIGMAP = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n"


def repo(tmp_path: Path) -> Path:
    """An empty repository (marker file, no policies) to run the command in."""
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    (root / ".gitops.toml").write_text("")
    return root


def kustomization(directory: Path, **fields: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(fields))
    return directory


def validate(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_gitops("validate", *args, "--output", "json", "--no-rule-tests", cwd=root)
    assert not done.timed_out, str(done)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), str(done)
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


@pytest.fixture
def server() -> Any:
    with recording_server({"/cm.yaml": CONFIGMAP}) as running:
        yield running


def refused(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] == "remote-resource"]


@pytest.mark.parametrize(
    "fields",
    [
        {"resources": ["{url}/cm.yaml"]},
        {"resources": ["git::{url}/repo.git//deploy?ref=v1"]},
        {"bases": ["{url}/cm.yaml"]},
        {"components": ["{url}/component"]},
        {"resources": ["cm.yaml"], "patches": [{"path": "{url}/patch.yaml"}]},
        {"configMapGenerator": [{"name": "c", "files": ["key={url}/cm.yaml"]}]},
        {"helmCharts": [{"name": "chart", "repo": "{url}/charts", "version": "1.0.0"}]},
    ],
    ids=["http", "git", "bases", "components", "patch-path", "generator-file", "helm-chart"],
)
def test_remote_reference_is_refused_without_a_request(
    tmp_path: Path, server: RecordingServer, fields: dict[str, Any]
) -> None:
    root = repo(tmp_path)
    text = json.dumps(fields).replace("{url}", server.url)
    overlay = kustomization(root / "overlays" / "x", **json.loads(text))
    (overlay / "cm.yaml").write_bytes(CONFIGMAP)
    code, report = validate(root, "overlays/x")
    assert code == 1
    (finding,) = refused(report)
    assert server.url in finding["message"] and "--allow-remote" in finding["message"]
    assert finding["file"] == "overlays/x/kustomization.yaml"
    assert server.requests == []


def test_git_target_without_a_scheme_is_refused(tmp_path: Path) -> None:
    # kustomize clones "github.com/org/repo//dir?ref=v1" with git: no scheme needed.
    root = repo(tmp_path)
    kustomization(root / "overlays" / "x", resources=["github.com/example/repo//deploy?ref=v1"])
    code, report = validate(root, "overlays/x")
    assert code == 1
    (finding,) = refused(report)
    assert "github.com/example/repo//deploy?ref=v1" in finding["message"]


def test_remote_reference_in_a_local_base_is_refused(
    tmp_path: Path, server: RecordingServer
) -> None:
    root = repo(tmp_path)
    kustomization(root / "base", resources=[f"{server.url}/cm.yaml"])
    kustomization(root / "overlays" / "x", resources=["../../base"])
    code, report = validate(root, "overlays/x")
    assert code == 1
    (finding,) = refused(report)
    assert finding["file"] == "base/kustomization.yaml"
    assert server.requests == []


def test_allow_remote_fetches_it(tmp_path: Path, server: RecordingServer) -> None:
    root = repo(tmp_path)
    kustomization(root / "overlays" / "x", resources=[f"{server.url}/cm.yaml"])
    _, report = validate(root, "overlays/x", "--allow-remote")
    assert refused(report) == []
    assert server.requests, "kustomize was allowed to fetch the resource"
    assert report["summary"]["resources"] == 1, report


def test_crd_schema_ref_to_a_url_is_a_finding_not_a_request(
    tmp_path: Path, server: RecordingServer
) -> None:
    root = repo(tmp_path)
    crd = widget_crd(
        {"type": "object", "properties": {"spec": {"$ref": f"{server.url}/schema.json"}}}
    )
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    (root / "crds").mkdir()
    (root / "crds" / "widget.yaml").write_text(yaml.safe_dump(crd))
    (root / "manifests").mkdir()
    (root / "manifests" / "widget.yaml").write_text(yaml.safe_dump(widget))
    # Once as a --crd-dir, once validated next to the object it describes.
    code, report = validate(root, "manifests", "--crd-dir", "crds")
    assert code == 1
    assert any(f["rule"] == "crd-schema" and "$ref" in f["message"] for f in report["findings"]), (
        report
    )
    code, report = validate(root, "manifests", "crds")
    assert any(f["rule"] == "crd-schema" and "$ref" in f["message"] for f in report["findings"])
    assert server.requests == []
