"""Every kustomization renders with real kustomize, and every rendered object is strictly valid.

Built-in kinds are checked with kubernetes-validate (strict, Kubernetes 1.33), custom resources
against the CRDs in ../shared/crds (unknown fields rejected). The Rollout's pod template is also
checked against the core PodTemplateSpec schema, which the Rollout CRD only approximates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.schemas import validate_all, validate_object
from tools import kustomize

Render = Callable[[str], tuple[dict[str, Any], ...]]

# Kustomizations owned by this part of the repository (base/training and base/mlflow-backup
# belong to the ML pipeline and are checked for rendering via their Applications below).
OWN_TOPS = (
    "overlays",
    "clusters",
    "apps",
    "rollouts",
    "base/model-api",
    "base/monitoring",
    "base/platform",
)


def _roots() -> list[str]:
    found = []
    for top in OWN_TOPS:
        for file in sorted((REPO_ROOT / top).rglob("kustomization.yaml")):
            directory = file.parent
            if not kustomize.is_component(directory):
                found.append(directory.relative_to(REPO_ROOT).as_posix())
    return found


ROOTS = _roots()


def test_expected_roots_are_found() -> None:
    for root in (
        "overlays/staging",
        "overlays/production",
        "apps",
        "clusters/staging",
        "clusters/production",
        "clusters/staging/platform",
        "clusters/production/platform",
    ):
        assert root in ROOTS


@pytest.mark.parametrize("root", ROOTS)
def test_root_renders_and_validates_strictly(render: Render, root: str) -> None:
    objects = render(root)
    assert objects, f"{root} rendered nothing"
    problems = validate_all(objects)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("overlay", ["overlays/staging", "overlays/production"])
def test_rollout_pod_template_is_a_valid_core_pod_template(render: Render, overlay: str) -> None:
    (rollout,) = [o for o in render(overlay) if o["kind"] == "Rollout"]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "model-api"},
        "spec": {
            "selector": copy.deepcopy(rollout["spec"]["selector"]),
            "template": copy.deepcopy(rollout["spec"]["template"]),
        },
    }
    assert validate_object(deployment) == []


def test_the_validator_rejects_unknown_fields(render: Render) -> None:
    (rollout,) = [o for o in render("overlays/production") if o["kind"] == "Rollout"]
    broken = copy.deepcopy(rollout)
    broken["spec"]["strategy"]["canary"]["stepz"] = []
    assert validate_object(broken)
    (service, *_) = [o for o in render("overlays/production") if o["kind"] == "Service"]
    broken = copy.deepcopy(service)
    broken["spec"]["portz"] = []
    assert validate_object(broken)


def _in_repo_application_paths(render: Render) -> set[str]:
    paths = set()
    for cluster in ("clusters/staging", "clusters/production"):
        for obj in render(cluster):
            if obj["kind"] != "Application":
                continue
            source = obj["spec"].get("source", {})
            if source.get("repoURL") == "https://github.com/example-org/mlops-gitops.git":
                paths.add(source["path"])
    return paths


def test_every_in_repo_application_path_renders(render: Render) -> None:
    paths = _in_repo_application_paths(render)
    assert {
        "overlays/staging",
        "overlays/production",
        "base/training",
        "base/mlflow-backup",
    } <= paths
    for path in sorted(paths):
        assert (REPO_ROOT / path / "kustomization.yaml").is_file(), path
        assert render(path), f"{path} renders nothing"


def test_no_component_is_left_unused() -> None:
    used: set[Path] = set()
    for overlay in ("overlays/staging", "overlays/production"):
        text = (REPO_ROOT / overlay / "kustomization.yaml").read_text(encoding="utf-8")
        used |= {
            c
            for c in (REPO_ROOT / "overlays/components").iterdir()
            if f"components/{c.name}" in text
        }
    assert used == set((REPO_ROOT / "overlays/components").iterdir())
