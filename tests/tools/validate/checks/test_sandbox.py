"""Policies evaluated in budgeted worker processes give exactly the in-process results.

The budgets themselves (an object that allocates gigabytes or runs for hours) are exercised by
tests/hostile/test_validate_policies.py, in a bounded child process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.validate import RUNAWAY_POLICY
from tools.validate.checks.policies import Module, PolicySet, load_policies, make_evaluator
from tools.validate.checks.sandbox import Budget, SandboxedEvaluator

POLICY = """package main

import rego.v1

deny contains msg if {
  input.kind == "ConfigMap"
  msg := sprintf("ConfigMap %s", [input.metadata.name])
}

warn contains {"msg": "unnamed", "path": "metadata"} if not input.metadata.name
"""


def objects(count: int) -> list[dict[str, object]]:
    kinds = ["ConfigMap", "Secret", "Service"]
    return [
        {"apiVersion": "v1", "kind": kinds[i % 3], "metadata": {"name": f"o{i}"} if i % 5 else {}}
        for i in range(count)
    ]


@pytest.fixture(params=["auto", "regorus", "regopy"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_results_match_the_in_process_engine_in_order(engine: str) -> None:
    policies = PolicySet(modules=[Module(Path("p.rego"), POLICY)], data={}, rules=["deny", "warn"])
    inner = make_evaluator(policies, engine)
    sandboxed = SandboxedEvaluator(inner, Budget(seconds=30, memory_mib=1024), workers=3)
    try:
        items = objects(40)
        assert sandboxed.evaluate_all(items) == [inner.evaluate(o) for o in items]
        # Workers are reused for a second batch.
        assert sandboxed.evaluate(items[1]) == inner.evaluate(items[1])
    finally:
        sandboxed.close()


@pytest.mark.parametrize("engine", ["auto", "regorus"])
def test_repository_policies_agree(engine: str) -> None:
    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    inner = make_evaluator(policies, engine)
    sandboxed = SandboxedEvaluator(inner, Budget(), workers=2)
    # A Deployment whose containers are not a list: the interpreter raises policy-errors where
    # the compiled VM leaves the expressions undefined, so the answers tell which one ran.
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "model-api-production"},
        "spec": {"template": {"spec": {"containers": "x"}}},
    }
    try:
        items = [*objects(9), broken]
        answers = sandboxed.evaluate_all(items)
        assert answers == [inner.evaluate(o) for o in items]
        errors = [r for r in answers[-1] if r.rule == "policy-error"]
        assert bool(errors) == (engine == "regorus")
    finally:
        sandboxed.close()


def test_no_policies_start_no_worker() -> None:
    empty = PolicySet(modules=[], data={}, rules=[])
    sandboxed = SandboxedEvaluator(make_evaluator(empty, "regorus"), Budget())
    assert sandboxed.evaluate_all(objects(3)) == [[], [], []]
    assert sandboxed._context is None


HOSTILE = (
    RUNAWAY_POLICY
    + """
deny contains msg if {
  input.kind == "ConfigMap"
  msg := sprintf("ConfigMap %s", [input.metadata.name])
}
"""
)


def test_a_chunk_that_fails_blames_the_object_it_was_on() -> None:
    """One worker, chunks of three: the objects before and after the ones that blow the
    budgets, in the same chunk, keep the in-process results; each of the two gets its own
    policy-error."""
    policies = PolicySet(modules=[Module(Path("p.rego"), HOSTILE)], data={}, rules=["deny"])
    inner = make_evaluator(policies, "regorus")
    sandboxed = SandboxedEvaluator(inner, Budget(seconds=2, memory_mib=512), workers=1)
    items = objects(12)
    items[4]["metadata"] = {"name": "huge"}
    items[7]["metadata"] = {"name": "slow"}
    try:
        results = sandboxed.evaluate_all(items)
    finally:
        sandboxed.close()
    for index, item in enumerate(items):
        if index in (4, 7):
            (error,) = results[index]
            assert error.rule == "policy-error"
        else:
            assert results[index] == inner.evaluate(item)
    assert "stopped after 2s" in results[7][0].message
    assert "stopped after" not in results[4][0].message
