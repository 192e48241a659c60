"""The published pre-commit hooks, installed by ``pre-commit try-repo`` into a sample repository.

pre-commit clones this repository and runs ``pip install . .[tools]`` in a new virtualenv. The
test must not reach a package index, so that install runs with ``PIP_NO_INDEX`` and
``PIP_NO_BUILD_ISOLATION``: the dependencies it needs are found on ``PYTHONPATH``, which points
at the test interpreter's site-packages (where the dev extra installed them, setuptools
included). What is exercised is everything of ours: the hook manifest, building and installing
this repository as pre-commit does, the ``gitops`` entry point, file selection and exit codes.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tests.support.validate import GOOD

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOOKS = REPO_ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
TIMEOUT = 600  # seconds: building the hook environment copies and installs this repository


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_manifest_publishes_both_hooks_as_python_hooks() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert set(hooks) == {"gitops-validate", "gitops-policy-test"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert hook["entry"].split()[0] == "gitops"
    select = re.compile(hooks["gitops-validate"]["files"])
    assert select.search("overlays/prod/kustomization.yaml") and select.search("p/x.rego")
    assert select.search("Kustomization") and select.search(".gitops.toml")
    assert not select.search("README.md") and not select.search("src/app.py")


POLICY = """\
package main

deny contains msg if {
\tinput.kind == "Pod"
\tnot input.metadata.labels.team
\tmsg := sprintf("Pod %s: no team label", [input.metadata.name])
}
"""
POLICY_TEST = """\
package main

test_unlabelled_pod_is_denied if {
\tcount(deny) == 1 with input as {"kind": "Pod", "metadata": {"name": "x"}}
}
"""
POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n{labels}spec:\n  containers: []\n"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another team's GitOps repository: one overlay, one policy with tests and samples."""
    repo = tmp_path_factory.mktemp("their-repo")
    overlay = repo / "overlays" / "prod"
    overlay.mkdir(parents=True)
    shutil.copy(GOOD, overlay / "app.yaml")
    (overlay / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    policy = repo / "policy" / "team_label"
    policy.mkdir(parents=True)
    (policy / "team_label.rego").write_text(POLICY)
    (policy / "team_label_test.rego").write_text(POLICY_TEST)
    (policy / "allowed.yaml").write_text(POD.format(labels="  labels: {team: ml}\n"))
    (policy / "disallowed.yaml").write_text(POD.format(labels=""))
    crds = REPO_ROOT.parent / "shared" / "crds"
    (repo / ".gitops.toml").write_text(
        f'[validate]\ncrd-dirs = ["{crds}"]\npolicy-dirs = ["policy"]\nrule-tests = "none"\n'
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    return repo


def try_repo(sample: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        PRE_COMMIT_HOME=str(home),
        PYTHONPATH=sysconfig.get_paths()["purelib"],
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="0",  # pip reads 0 here as "no build isolation"
        PIP_CONFIG_FILE=os.devnull,
        XDG_CACHE_HOME=str(home / "cache"),
    )
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(REPO_ROOT), hook, "--all-files", "--verbose"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limits,
        check=False,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PRE_COMMIT_HOME: the hook environment is built once for both hooks."""
    return tmp_path_factory.mktemp("pre-commit-home")


def test_validate_hook_runs_in_another_repository(sample: Path, home: Path) -> None:
    result = try_repo(sample, "gitops-validate", home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "gitops validate" in result.stdout and "Passed" in result.stdout
    assert "OK: 13 resources" in result.stdout

    (sample / "overlays" / "prod" / "kustomization.yaml").write_text(
        "resources: [app.yaml, gone.yaml]\n"
    )
    result = try_repo(sample, "gitops-validate", home)
    git(sample, "checkout", "--", ".")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Failed" in result.stdout and "gone.yaml" in result.stdout


def test_policy_test_hook_runs_the_rego_tests_and_samples(sample: Path, home: Path) -> None:
    result = try_repo(sample, "gitops-policy-test", home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PASSED: 1/1 tests, 2/2 samples, 1 policy folders" in result.stdout

    (sample / "policy" / "team_label" / "allowed.yaml").write_text(POD.format(labels=""))
    result = try_repo(sample, "gitops-policy-test", home)
    git(sample, "checkout", "--", ".")
    assert result.returncode == 1
    assert "FAIL policy/team_label/allowed.yaml: deny: Pod p: no team label" in result.stdout
