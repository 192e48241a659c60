"""``gitops bump`` on a copy of this repository: its real overlays, policies and CRDs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.gitrepo import git
from tests.support.paths import REPO_ROOT
from tools.cli import main
from tools.release.kustomization import find_image

IMAGE = "ghcr.io/example-org/model-api"

pytestmark = pytest.mark.integration


@pytest.fixture
def copy(tmp_path: Path) -> tuple[Path, Path]:
    """A bare copy of HEAD and a clone of it; ../shared beside the clone, as in CI."""
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(REPO_ROOT), str(bare)], check=True)
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(clone)], check=True)
    git(clone, "config", "user.name", "Test Bot")
    git(clone, "config", "user.email", "bot@example.org")
    (tmp_path / "shared").symlink_to(REPO_ROOT.parent / "shared")
    return bare, clone


def test_bump_staging_of_the_real_repository(
    copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bare, clone = copy
    args = ["bump", "--repo-dir", str(clone), "--env", "staging", "--image", IMAGE]
    assert main([*args, "--tag", "9.9.9", "--no-pr"]) == 0, capsys.readouterr().err
    text = git(bare, "show", "HEAD:overlays/staging/kustomization.yaml")
    entry = find_image(text, IMAGE)
    assert entry is not None and entry.tag == "9.9.9"
    changed = git(bare, "show", "--format=", "--numstat", "HEAD")
    assert changed == "1\t1\toverlays/staging/kustomization.yaml"


def test_promote_of_a_tag_only_staging_is_refused(
    copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, clone = copy
    args = ["promote", "--repo-dir", str(clone), "--from", "staging", "--to", "production"]
    assert main([*args, "--no-pr"]) == 1
    assert "by tag only" in capsys.readouterr().err
