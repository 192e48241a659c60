"""The open-pr step through the real ``gitops bump`` on a clone of this repository.

The clone's ``origin`` is a local bare repository; the shared CRD folder is linked beside the
clone where ``[tool.gitops.validate] crd-dirs`` expects it, so bump validates the overlay for real.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools import cli
from tools.pipeline import steps

pytestmark = pytest.mark.integration

DIGEST = "sha256:" + "ab" * 32
IMAGE = "ghcr.io/example-org/model-api"


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def clone(repo_root: Path, crd_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in {
        "GIT_AUTHOR_NAME": "pipeline test",
        "GIT_AUTHOR_EMAIL": "pipeline@example.invalid",
        "GIT_COMMITTER_NAME": "pipeline test",
        "GIT_COMMITTER_EMAIL": "pipeline@example.invalid",
    }.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "crds").symlink_to(crd_root.resolve())
    _git(tmp_path, "clone", "--quiet", "--bare", str(repo_root), "remote.git")
    _git(tmp_path, "clone", "--quiet", "remote.git", "work")
    return tmp_path / "work"


def _staging(repo: Path) -> str:
    return (repo / "overlays/staging/kustomization.yaml").read_text(encoding="utf-8")


def test_dry_run_prints_the_planned_bump_and_touches_nothing(
    clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _staging(clone), _git(clone, "rev-parse", "HEAD")
    code = steps.open_pr(
        env="staging", image=IMAGE, digest=DIGEST, mode="dry-run", repo_dir=str(clone)
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"+    digest: {DIGEST}" in out
    assert "Plan (dry run, nothing was changed)" in out
    assert "open PR: gitops/bump/staging/" in out
    assert (_staging(clone), _git(clone, "rev-parse", "HEAD")) == before
    assert _git(clone, "status", "--porcelain") == ""


def test_local_pipeline_with_no_pr_pushes_the_digest_to_staging(
    clone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["pipeline", "run", "--local", "--tracking-uri", uri, "--digest", DIGEST]
    assert cli.main([*args, "--no-pr", "--repo-dir", str(clone)]) == 0
    out = capsys.readouterr().out
    assert "register: models:/model-api/1 aliases candidate, champion" in out
    assert "open-pr: gitops bump exited 0" in out

    remote = tmp_path / "remote.git"
    branch = _git(clone, "rev-parse", "--abbrev-ref", "HEAD")
    pushed = _git(remote, "show", f"{branch}:overlays/staging/kustomization.yaml")
    assert f"digest: {DIGEST}" in pushed
    assert _git(remote, "log", "-1", "--format=%s", branch).startswith("chore(staging): bump")
    production = _git(remote, "show", f"{branch}:overlays/production/kustomization.yaml")
    assert DIGEST not in production
