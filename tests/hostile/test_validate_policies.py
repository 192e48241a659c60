"""A Rego rule that allocates or loops without bound ends as a ``policy-error`` finding.

``numbers.range(1, 2e8)`` asks the engine for gigabytes at once (before issue #15 the run
aborted with a Rust backtrace); a doubly nested ``every`` over 100,000 numbers runs for hours.
Each object is evaluated under a time and memory budget (tools/validate/checks/sandbox.py), and
the other objects are still checked. Every case runs ``gitops validate`` in a bounded child.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.bounded import run_gitops
from tests.support.validate import RUNAWAY_POLICY

POLICY = (
    RUNAWAY_POLICY
    + """
deny contains msg if {
  input.metadata.name == "plain"
  msg := "plain ConfigMap denied"
}
"""
)


def repo(tmp_path: Path, *names: str) -> Path:
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "budget.rego").write_text(POLICY)
    (root / ".gitops.toml").write_text("")
    (root / "manifests").mkdir()
    for name in names:
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
        (root / "manifests" / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    return root


def validate(root: Path, *args: str, address_space: bool = True) -> dict[str, Any]:
    done = run_gitops(
        "validate", "manifests", *args, "--output", "json", "--no-rule-tests", "--no-cache",
        cwd=root, address_space=address_space,
    )  # fmt: skip
    assert not done.timed_out, str(done)
    assert "Traceback" not in done.stderr and "backtrace" not in done.stderr, done.stderr
    assert done.returncode == 1, str(done)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def by_file(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        found.setdefault(Path(finding["file"]).stem, []).append(finding)
    return found


@pytest.mark.parametrize("engine", ["auto", "regorus", "regopy"])
def test_rule_that_allocates_gigabytes_is_a_policy_error(tmp_path: Path, engine: str) -> None:
    root = repo(tmp_path, "huge", "plain")
    # rego-cpp reserves 256 GiB of address space when it loads: only its resident memory can
    # be watched (here, and by the sandbox).
    found = by_file(
        validate(
            root, "--engine", engine, "--policy-memory", "512", address_space=engine != "regopy"
        )
    )
    if engine == "regorus" or "huge" in found:
        (error,) = found["huge"]
        assert error["rule"] == "policy-error"
    # The other object is still evaluated.
    assert [f["message"] for f in found["plain"]] == ["plain ConfigMap denied"]


def test_rule_that_runs_for_hours_is_a_policy_error(tmp_path: Path) -> None:
    root = repo(tmp_path, "slow", "plain")
    found = by_file(validate(root, "--policy-timeout", "2"))
    (error,) = found["slow"]
    assert error["rule"] == "policy-error"
    assert "stopped after 2s" in error["message"]
    assert [f["message"] for f in found["plain"]] == ["plain ConfigMap denied"]
