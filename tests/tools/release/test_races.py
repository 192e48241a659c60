"""Concurrent ``gitops bump --no-pr`` runs against one remote: no lost update, no duplicate."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.gitrepo import Remote
from tests.support.paths import REPO_ROOT
from tools.release.kustomization import find_image, read_images

IMAGE = "ghcr.io/example-org/model-api"
DIGEST = "sha256:" + "4" * 64

pytestmark = pytest.mark.integration


def racer(remote: Remote, name: str, *args: str) -> subprocess.Popen[str]:
    """A bump in its own clone (like two CI jobs); a slow pre-push widens the race window."""
    clone = remote.clone(name)
    hook = clone / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nsleep 0.3\n", encoding="utf-8")
    hook.chmod(0o755)
    command = [sys.executable, "-m", "tools", "bump", "--repo-dir", str(clone), "--image", IMAGE]
    return subprocess.Popen(
        [*command, *args, "--no-pr"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(*procs: subprocess.Popen[str]) -> list[str]:
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        outputs.append(out)
    return outputs


def single_entry(remote: Remote, env: str) -> tuple[str | None, str | None]:
    text = remote.show(f"overlays/{env}/kustomization.yaml") + "\n"
    assert [e.name for e in read_images(text)].count(IMAGE) == 1
    entry = find_image(text, IMAGE)
    assert entry is not None
    return entry.tag, entry.digest


def test_two_environments_at_once_keep_both_changes(remote: Remote) -> None:
    finish(
        racer(remote, "a", "--env", "staging", "--tag", "2.0.0"),
        racer(remote, "b", "--env", "production", "--digest", DIGEST),
    )
    assert single_entry(remote, "staging") == ("2.0.0", None)
    assert single_entry(remote, "production") == (None, DIGEST)
    subjects = remote.subjects()
    assert f"chore(staging): bump {IMAGE} to 2.0.0" in subjects
    assert f"chore(production): bump {IMAGE} to {DIGEST[:19]}" in subjects
    assert len(subjects) == 3  # the initial commit and one commit per bump


def test_same_environment_at_once_ends_with_the_later_push(remote: Remote) -> None:
    finish(
        racer(remote, "a", "--env", "staging", "--tag", "3.0.0"),
        racer(remote, "b", "--env", "staging", "--tag", "3.1.0"),
    )
    subjects = remote.subjects()
    assert len(subjects) == 3
    bumps = [s for s in subjects if s.startswith("chore(staging)")]
    assert sorted(bumps) == [
        f"chore(staging): bump {IMAGE} to 3.0.0",
        f"chore(staging): bump {IMAGE} to 3.1.0",
    ]
    latest = subjects[0].rsplit(" ", 1)[-1]
    assert single_entry(remote, "staging") == (latest, None)
