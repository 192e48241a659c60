"""The composite GitHub Action (action.yml): schema-valid, its scripts shellcheck-clean, and its
validate step run for real, as the runner would run it, against a sample repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tests.support.validate import DATA, GOOD, patched_sample, shared_crds

ACTION = REPO_ROOT / "action.yml"
BIN = Path(sys.executable).parent


def action() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return document


def step(step_id: str) -> dict[str, Any]:
    return next(s for s in action()["runs"]["steps"] if s.get("id") == step_id)


def test_action_matches_the_github_action_schema() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_inputs_and_outputs() -> None:
    document = action()
    assert set(document["inputs"]) >= {"paths", "crd-dirs", "sarif-file", "fail-on-warn"}
    assert all(spec.get("description") for spec in document["inputs"].values())
    assert document["runs"]["using"] == "composite"


@pytest.mark.parametrize("index", range(len(action()["runs"]["steps"])))
def test_scripts_are_shellcheck_clean_and_take_inputs_through_the_environment(index: int) -> None:
    """Inputs reach scripts as environment variables: ${{ }} inside a script is injection."""
    script = action()["runs"]["steps"][index].get("run")
    if script is None:
        return
    assert "${{" not in script
    result = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", "-"],
        input="#!/usr/bin/env bash\n" + script,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


def test_the_install_step_installs_this_ref_with_its_lock_file() -> None:
    script = step_named("install the gitops CLI")["run"]
    assert '-r "$ACTION_PATH/requirements/tools.txt"' in script and "--require-hashes" in script
    assert (REPO_ROOT / "requirements" / "tools.txt").is_file()


def step_named(prefix: str) -> dict[str, Any]:
    return next(s for s in action()["runs"]["steps"] if s.get("name", "").startswith(prefix))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A repository with a good and a broken overlay; the CRDs come from the crd-dirs input."""
    broken = patched_sample(DATA / "patches" / "rollout-missing-canary-service.yaml", tmp_path)
    repo = tmp_path / "workspace"
    for name, source in (("good", GOOD), ("broken", broken)):
        overlay = repo / "overlays" / name
        overlay.mkdir(parents=True)
        shutil.copy(source, overlay / "app.yaml")
        (overlay / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    (repo / ".gitops.toml").write_text("[validate]\npolicy-dirs = []\nrule-tests = 'none'\n")
    return repo


def run_validate_step(
    workspace: Path, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """The validate step's script under bash, with the environment the runner gives it."""
    gitops = workspace.parent / "gitops"
    gitops.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tools "$@"\n')
    gitops.chmod(0o755)
    outputs = workspace.parent / "github-output"
    outputs.write_text("")
    declared = action()["inputs"]
    values = {
        name: inputs.get(name.replace("-", "_"), spec["default"]) for name, spec in declared.items()
    }
    env = {
        **os.environ,
        "GITOPS": str(gitops),
        "PATHS": values["paths"],
        "CRD_DIRS": values["crd-dirs"],
        "SARIF_FILE": values["sarif-file"],
        "FAIL_ON_WARN": values["fail-on-warn"],
        "GITHUB_OUTPUT": str(outputs),
        "PYTHONPATH": str(REPO_ROOT),
        "XDG_CACHE_HOME": str(workspace.parent / "cache"),
    }
    result = subprocess.run(
        ["bash", "-c", step("validate")["run"]],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return result, outputs.read_text()


def test_validate_step_annotates_and_writes_sarif(workspace: Path) -> None:
    crds = str(shared_crds())
    result, outputs = run_validate_step(workspace, crd_dirs=crds, paths="overlays/good")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gitops validate: 13 resources" in result.stdout
    report = json.loads((workspace / "gitops-validate.sarif").read_text())
    assert report["version"] == "2.1.0" and report["runs"][0]["results"] == []
    assert outputs == "sarif-file=gitops-validate.sarif\n"

    result, _ = run_validate_step(
        workspace, crd_dirs=f"{crds}\n", paths="overlays/good\noverlays/broken", sarif_file=""
    )
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert any("overlays/broken" in line and "ref-rollout-service" in line for line in annotations)


def test_validate_step_rejects_a_bad_fail_on_warn(workspace: Path) -> None:
    result, _ = run_validate_step(workspace, fail_on_warn="yes")
    assert result.returncode == 2
    assert "::error title=gitops validate::fail-on-warn must be true or false" in result.stdout


def test_ci_workflow_uses_the_action_of_this_checkout() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    uses = [
        s
        for job in workflow["jobs"].values()
        for s in job.get("steps", [])
        if s.get("uses") == "./"
    ]
    assert uses and uses[0]["with"]["sarif-file"] == "gitops-validate.sarif"
