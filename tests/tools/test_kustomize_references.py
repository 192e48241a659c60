"""What tools.kustomize refuses before running kustomize: remote and escaping references."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tools.kustomize import RefusedError, build, check_references


def kustomization(directory: Path, **fields: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(fields))
    return directory


@pytest.mark.parametrize(
    "fields",
    [
        {"resources": ["https://example.com/cm.yaml"]},
        {"resources": ["git::https://example.com/org/repo//deploy?ref=v1"]},
        {"resources": ["git@github.com:org/repo.git//deploy"]},
        {"resources": ["github.com/org/repo//deploy?ref=v1"]},
        {"components": ["ssh://example.com/org/repo//component"]},
        {"crds": ["https://example.com/crd.yaml"]},
        {"patches": [{"path": "https://example.com/patch.yaml"}]},
        {"replacements": [{"path": "https://example.com/r.yaml"}]},
        {"configMapGenerator": [{"name": "c", "envs": ["https://example.com/.env"]}]},
        {"secretGenerator": [{"name": "s", "files": ["key=https://example.com/k"]}]},
        {"helmCharts": [{"name": "c", "repo": "oci://example.com/charts"}]},
        {"openapi": {"path": "https://example.com/openapi.json"}},
    ],
)
def test_remote_references_are_refused(tmp_path: Path, fields: dict[str, object]) -> None:
    (refusal,) = check_references(kustomization(tmp_path / "k", **fields))
    assert refusal.rule == "remote-resource"
    assert refusal.file == tmp_path / "k" / "kustomization.yaml"
    assert check_references(tmp_path / "k", allow_remote=True) == []


def test_what_only_looks_like_a_url_is_not_a_reference(tmp_path: Path) -> None:
    directory = kustomization(
        tmp_path / "k",
        resources=["cm.yaml"],
        images=[{"name": "api", "newName": "ghcr.io/example/api"}],
        commonAnnotations={"docs": "https://example.com/runbook"},
        patches=[{"patch": "- op: add\n  path: /x\n  value: https://example.com\n"}],
    )
    (directory / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert check_references(directory) == []


def test_local_folder_named_like_a_host_is_local(tmp_path: Path) -> None:
    kustomization(tmp_path / "k" / "example.com" / "base", resources=[])
    directory = kustomization(tmp_path / "k", resources=["example.com/base"])
    assert check_references(directory) == []


def test_references_are_followed_through_local_bases(tmp_path: Path) -> None:
    kustomization(tmp_path / "base", resources=["https://example.com/cm.yaml"])
    overlay = kustomization(tmp_path / "overlay", resources=["../base"])
    (refusal,) = check_references(overlay)
    assert refusal.file == tmp_path / "base" / "kustomization.yaml"


def test_symlink_out_of_the_boundary_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    repo = tmp_path / "repo"
    overlay = kustomization(repo / "overlay", resources=["cm.yaml"])
    os.symlink(outside, overlay / "cm.yaml")
    (refusal,) = check_references(overlay, boundary=repo)
    assert refusal.rule == "outside-repository"
    assert check_references(overlay) == []  # no boundary: not this function's business
    with pytest.raises(RefusedError, match="resolves outside the repository"):
        build(overlay, boundary=repo)


def test_build_refuses_before_running_kustomize(tmp_path: Path) -> None:
    overlay = kustomization(tmp_path / "k", resources=["https://example.com/cm.yaml"])
    with pytest.raises(RefusedError) as refused:
        build(overlay)
    assert refused.value.hint is not None and "--allow-remote" in refused.value.hint
