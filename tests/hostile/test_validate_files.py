"""Files outside the repository are never read, kustomize runs under a memory and time cap, and
messages name the user's paths only.

Every case runs ``gitops validate`` in a bounded child process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from tests.support.bounded import run_gitops

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}


def repo(tmp_path: Path, config: str = "") -> Path:
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    (root / ".gitops.toml").write_text(config)
    return root


def validate(root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = run_gitops("validate", *args, "--output", "json", "--no-rule-tests", cwd=root)
    assert not done.timed_out, str(done)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), str(done)
    return done.returncode, json.loads(done.stdout), done.stdout


def overlay(root: Path) -> Path:
    directory = root / "overlays" / "x"
    directory.mkdir(parents=True)
    (directory / "cm.yaml").write_text(yaml.safe_dump(CONFIGMAP))
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["cm.yaml"]}))
    return directory


def test_manifest_symlinked_outside_the_repository_is_not_read(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "manifests").mkdir()
    os.symlink("/etc/passwd", root / "manifests" / "passwd.yaml")
    code, report, text = validate(root, "manifests")
    assert code == 1
    (finding,) = report["findings"]
    assert finding["rule"] == "outside-repository"
    assert finding["file"] == "manifests/passwd.yaml"
    assert "root:" not in text  # nothing of the file's content


def test_kustomization_resource_symlinked_outside_is_refused(tmp_path: Path) -> None:
    root = repo(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text(yaml.safe_dump({**CONFIGMAP, "data": {"secret": "s3cr3t"}}))
    directory = root / "overlays" / "x"
    directory.mkdir(parents=True)
    os.symlink(outside, directory / "cm.yaml")
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["cm.yaml"]}))
    code, report, text = validate(root, "overlays/x")
    assert code == 1
    assert [f["rule"] for f in report["findings"]] == ["outside-repository"]
    assert "s3cr3t" not in text


def test_kustomize_over_its_memory_cap_is_a_finding(tmp_path: Path) -> None:
    root = repo(tmp_path, "[validate]\nkustomize-memory = 16\n")
    overlay(root)
    code, report, _ = validate(root, "overlays/x")
    assert code == 1
    (finding,) = report["findings"]
    assert finding["rule"] == "render"
    assert "memory" in finding["message"] and "16 MiB" in finding["message"]


def test_kustomize_over_its_time_limit_is_a_finding(tmp_path: Path) -> None:
    root = repo(tmp_path)
    overlay(root)
    code, report, _ = validate(root, "overlays/x", "--kustomize-timeout", "0.001")
    assert code == 1
    (finding,) = report["findings"]
    assert finding["rule"] == "render"
    assert "gave up after 0.001s" in finding["message"]


def test_kustomize_errors_show_the_users_paths_only(tmp_path: Path) -> None:
    root = repo(tmp_path)
    directory = root / "overlays" / "x"
    directory.mkdir(parents=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["missing.yaml"]}))
    code, report, text = validate(root, "overlays/x")
    assert code == 1
    (finding,) = report["findings"]
    assert "missing.yaml" in finding["message"]
    assert "gitops-kustomize" not in text and "__gitops_fs_root__" not in text
