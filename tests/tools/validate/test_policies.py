"""conftest semantics of the in-process Rego evaluation (regopy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.errors import UserError
from tools.validate.policies import RegoEvaluator, load_policies

POLICY = """
package main

import rego.v1

deny contains msg if {
	input.kind == "Pod"
	msg := sprintf("Pod %s: bare pods are not allowed", [input.metadata.name])
}

violation_size contains {"msg": "too big", "path": "$.spec.size", "ticket": 7} if {
	input.spec.size > data.limits.size
}

warn_name contains "short name" if count(input.metadata.name) < 3

deny_color contains "red is forbidden" if input.spec.color == "red"

exception contains rules if {
	input.metadata.labels.exempt == "yes"
	rules := ["color"]
}
"""

OTHER_PACKAGE = """
package other

import rego.v1

deny contains "never evaluated" if true
"""


@pytest.fixture
def evaluator(tmp_path: Path) -> RegoEvaluator:
    (tmp_path / "main.rego").write_text(POLICY, encoding="utf-8")
    (tmp_path / "other.rego").write_text(OTHER_PACKAGE, encoding="utf-8")
    (tmp_path / "data.yaml").write_text("limits:\n  size: 10\n", encoding="utf-8")
    policies = load_policies([tmp_path])
    assert policies.rules == ["deny", "deny_color", "violation_size", "warn_name"]
    return RegoEvaluator(policies)


def obj(kind: str = "Widget", name: str = "widget", **spec: object) -> dict[str, object]:
    return {"kind": kind, "metadata": {"name": name, "labels": {}}, "spec": spec}


def test_string_results_of_plain_deny(evaluator: RegoEvaluator) -> None:
    (result,) = evaluator.evaluate(obj("Pod", "web"))
    assert (result.rule, result.severity, result.message) == (
        "deny",
        "error",
        "Pod web: bare pods are not allowed",
    )


def test_object_results_keep_path_and_details(evaluator: RegoEvaluator) -> None:
    (result,) = evaluator.evaluate(obj(size=11))
    assert result.rule == "violation_size"
    assert result.path == "$.spec.size"
    assert result.details == {"ticket": 7}


def test_warn_rules_are_warnings(evaluator: RegoEvaluator) -> None:
    (result,) = evaluator.evaluate(obj(name="ab"))
    assert (result.rule, result.severity) == ("warn_name", "warning")


def test_exception_silences_named_rule_only(evaluator: RegoEvaluator) -> None:
    red = obj(color="red", size=20)
    assert {r.rule for r in evaluator.evaluate(red)} == {"deny_color", "violation_size"}
    red["metadata"]["labels"] = {"exempt": "yes"}  # type: ignore[index]
    assert {r.rule for r in evaluator.evaluate(red)} == {"violation_size"}


def test_only_package_main_is_evaluated(evaluator: RegoEvaluator) -> None:
    assert evaluator.evaluate(obj()) == []


def test_policy_that_does_not_compile_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_text(
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := \n}\n",
        encoding="utf-8",
    )
    with pytest.raises(UserError, match="does not compile"):
        RegoEvaluator(load_policies([tmp_path]))


def test_missing_policy_dir_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_policies([tmp_path / "nope"])


def test_repository_policies_compile_and_name_the_bad_value() -> None:
    from tests.tools.validate.conftest import REPO

    policies = load_policies([REPO / "policies"], [REPO / "policies" / "data.yaml"])
    evaluator = RegoEvaluator(policies)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "debug", "namespace": "model-api-production"},
        "spec": {"containers": [{"name": "sh", "image": "busybox:latest"}]},
    }
    messages = {r.rule: r.message for r in evaluator.evaluate(pod)}
    assert 'image "busybox:latest"' in messages["deny_image_tag"]
    assert "Pod debug" in messages["deny_image_registry"]
    assert messages.keys() >= {"deny_run_as_root", "deny_seccomp", "deny_resources"}


def test_default_values_in_messages_survive_the_engine() -> None:
    """rego-cpp mangled object.get defaults inside sprintf; messages must stay well-formed."""
    from tests.tools.validate.conftest import REPO

    evaluator = RegoEvaluator(load_policies([REPO / "policies"], [REPO / "policies" / "data.yaml"]))
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "build"},
        "spec": {"templates": [{"name": "t", "container": {"image": "ghcr.io/example-org/b:1"}}]},
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bare"}}
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}], "volumes": [{"name": "v", "hostPath": {}}]},
    }
    results = [r for obj in (template, namespace, pod) for r in evaluator.evaluate(obj)]
    assert not [r for r in results if r.rule == "policy-error"]
    messages = "\n".join(r.message for r in results)
    assert 'WorkflowTemplate build: container "(unnamed)" must drop ALL' in messages
    assert "Namespace bare: label pod-security.kubernetes.io/enforce is unset" in messages
    assert 'volume "v" mounts hostPath (no path) from the node' in messages


KINDS_POLICY = """
package main

import rego.v1

# METADATA
# custom:
#   kinds: [Deployment]
deny_declared contains "declared" if input.spec.bad

deny_everywhere contains "everywhere" if input.spec.bad
"""


def test_rules_declaring_kinds_only_run_for_those_kinds(tmp_path: Path) -> None:
    (tmp_path / "kinds.rego").write_text(KINDS_POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    assert policies.rule_kinds == {
        "deny_declared": frozenset({"Deployment"}),
        "deny_everywhere": None,
    }
    evaluator = RegoEvaluator(policies)
    deployment = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"bad": True}}
    config_map = {"kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {"bad": True}}
    assert {r.rule for r in evaluator.evaluate(deployment)} == {"deny_declared", "deny_everywhere"}
    assert {r.rule for r in evaluator.evaluate(config_map)} == {"deny_everywhere"}
