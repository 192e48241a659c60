"""conftest semantics of the in-process Rego evaluation, on both engines (regorus, regopy)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.validate import DATA
from tools.errors import UserError
from tools.validate import loader
from tools.validate.checks.policies import (
    Evaluator,
    PolicyResult,
    load_policies,
    make_evaluator,
    resolve_engine,
)

ENGINES = ["auto", "regorus", "regopy"]  # auto: regorus with its compiled VM


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
def evaluator(tmp_path: Path, engine: str) -> Evaluator:
    (tmp_path / "main.rego").write_text(POLICY, encoding="utf-8")
    (tmp_path / "other.rego").write_text(OTHER_PACKAGE, encoding="utf-8")
    (tmp_path / "data.yaml").write_text("limits:\n  size: 10\n", encoding="utf-8")
    policies = load_policies([tmp_path])
    assert policies.rules == ["deny", "deny_color", "violation_size", "warn_name"]
    return make_evaluator(policies, engine)


def obj(kind: str = "Widget", name: str = "widget", **spec: object) -> dict[str, object]:
    return {"kind": kind, "metadata": {"name": name, "labels": {}}, "spec": spec}


def test_string_results_of_plain_deny(evaluator: Evaluator) -> None:
    (result,) = evaluator.evaluate(obj("Pod", "web"))
    assert (result.rule, result.severity, result.message) == (
        "deny",
        "error",
        "Pod web: bare pods are not allowed",
    )


def test_object_results_keep_path_and_details(evaluator: Evaluator) -> None:
    (result,) = evaluator.evaluate(obj(size=11))
    assert result.rule == "violation_size"
    assert result.path == "$.spec.size"
    assert result.details == {"ticket": 7}


def test_warn_rules_are_warnings(evaluator: Evaluator) -> None:
    (result,) = evaluator.evaluate(obj(name="ab"))
    assert (result.rule, result.severity) == ("warn_name", "warning")


def test_exception_silences_named_rule_only(evaluator: Evaluator) -> None:
    red = obj(color="red", size=20)
    assert {r.rule for r in evaluator.evaluate(red)} == {"deny_color", "violation_size"}
    red["metadata"]["labels"] = {"exempt": "yes"}  # type: ignore[index]
    assert {r.rule for r in evaluator.evaluate(red)} == {"violation_size"}


def test_only_package_main_is_evaluated(evaluator: Evaluator) -> None:
    assert evaluator.evaluate(obj()) == []


def test_policy_that_does_not_compile_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "bad.rego").write_text(
        "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := \n}\n",
        encoding="utf-8",
    )
    with pytest.raises(UserError, match="does not compile"):
        make_evaluator(load_policies([tmp_path]))


def test_missing_policy_dir_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        load_policies([tmp_path / "nope"])


def test_repository_policies_compile_and_name_the_bad_value(engine: str) -> None:
    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    evaluator = make_evaluator(policies, engine)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "debug", "namespace": "model-api-production"},
        "spec": {"containers": [{"name": "sh", "image": "busybox:latest"}]},
    }
    messages = {r.rule: r.message for r in evaluator.evaluate(pod)}
    assert 'image "busybox:latest"' in messages["deny_image_tag"]
    assert "Pod debug" in messages["deny_image_registry"]
    assert messages.keys() >= {"deny_writable_root_fs", "deny_resources"}


def test_default_values_in_messages_survive_the_engine(engine: str) -> None:
    """rego-cpp mangled object.get defaults inside sprintf; messages must stay well-formed."""
    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    evaluator = make_evaluator(policies, engine)
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "build"},
        "spec": {"templates": [{"name": "t", "container": {"image": "ghcr.io/example-org/b:1"}}]},
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bare"}}
    results = [r for obj in (template, namespace) for r in evaluator.evaluate(obj)]
    assert not [r for r in results if r.rule == "policy-error"]
    messages = "\n".join(r.message for r in results)
    assert 'WorkflowTemplate build: container "(unnamed)" must set securityContext.read' in messages
    assert "Namespace bare: label pod-security.kubernetes.io/enforce is unset" in messages


KINDS_POLICY = """
package main

import rego.v1

# METADATA
# custom:
#   kinds: [Deployment]
deny_declared contains "declared" if input.spec.bad

deny_everywhere contains "everywhere" if input.spec.bad
"""


def test_rules_declaring_kinds_only_run_for_those_kinds(tmp_path: Path, engine: str) -> None:
    (tmp_path / "kinds.rego").write_text(KINDS_POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    assert policies.rule_kinds == {
        "deny_declared": frozenset({"Deployment"}),
        "deny_everywhere": None,
    }
    evaluator = make_evaluator(policies, engine)
    deployment = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"bad": True}}
    config_map = {"kind": "ConfigMap", "metadata": {"name": "c"}, "spec": {"bad": True}}
    assert {r.rule for r in evaluator.evaluate(deployment)} == {"deny_declared", "deny_everywhere"}
    assert {r.rule for r in evaluator.evaluate(config_map)} == {"deny_everywhere"}


SINGLE_VALUE_POLICY = """
package main

import rego.v1

deny contains "always" if true

warn_single := "single-value rule" if input.spec.single

deny_number contains "number" if to_number(input.spec.number) > 1
"""


def test_undefined_single_value_rule_hides_nothing(tmp_path: Path, engine: str) -> None:
    (tmp_path / "single.rego").write_text(SINGLE_VALUE_POLICY, encoding="utf-8")
    policies = load_policies([tmp_path])
    assert policies.complete == {"warn_single"}
    evaluator = make_evaluator(policies, engine)
    plain = {"kind": "Thing", "metadata": {"name": "t"}, "spec": {}}
    assert [(r.rule, r.message) for r in evaluator.evaluate(plain)] == [("deny", "always")]
    flagged = {"kind": "Thing", "metadata": {"name": "t"}, "spec": {"single": True}}
    assert sorted((r.rule, r.severity) for r in evaluator.evaluate(flagged)) == [
        ("deny", "error"),
        ("warn_single", "warning"),
    ]


def test_builtin_error_is_a_finding_with_regorus_and_undefined_otherwise(
    tmp_path: Path, engine: str
) -> None:
    (tmp_path / "single.rego").write_text(SINGLE_VALUE_POLICY, encoding="utf-8")
    evaluator = make_evaluator(load_policies([tmp_path]), engine)
    broken = {"kind": "Thing", "metadata": {"name": "t"}, "spec": {"number": "many"}}
    results = evaluator.evaluate(broken)
    assert ("deny", "always") in [(r.rule, r.message) for r in results]  # other rules still run
    errors = [r for r in results if r.rule == "policy-error"]
    # strict, and says where and why; the VM's answer holds an undefined value here, so the
    # interpreter evaluates the object again and reports the error
    if engine in ("auto", "regorus"):
        (error,) = errors
        assert error.severity == "error"
        assert "single.rego:10:" in error.message and "parse string as number" in error.message
    else:  # the VM and rego-cpp, like OPA without --strict-builtin-errors: undefined
        assert not errors
    assert "deny_number" not in {r.rule for r in results}


def test_unknown_function(tmp_path: Path, engine: str) -> None:
    (tmp_path / "bad.rego").write_text(
        "package main\n\nimport rego.v1\n\ndeny contains m if m := data.lib.nope(input)\n",
        encoding="utf-8",
    )
    policies = load_policies([tmp_path])
    if engine in ("auto", "regorus"):
        with pytest.raises(UserError, match=r"policy does not compile: .*bad\.rego:5:.*nope"):
            make_evaluator(policies, engine)
    else:  # rego-cpp only fails when it evaluates the rule
        (result,) = make_evaluator(policies, engine).evaluate({"kind": "Thing"})
        assert result.rule == "policy-error"


def test_engine_names() -> None:
    assert resolve_engine("auto") == "regorus"  # the dev extra installs both
    assert resolve_engine("regopy") == "regopy"
    with pytest.raises(UserError, match="unknown Rego engine 'opa'"):
        resolve_engine("opa")


def test_auto_falls_back_to_regopy_without_the_regorus_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "regorus", None)  # what find_spec sees when not installed
    assert resolve_engine("auto") == "regopy"
    with pytest.raises(UserError) as exc:
        resolve_engine("regorus")
    assert (
        exc.value.hint == "pip install 'gordon-to-regorus' (the regorus extra), or --engine regopy"
    )


def _as_tuples(results: list[PolicyResult]) -> list[tuple[object, ...]]:
    return sorted((r.rule, r.severity, r.message, r.path, sorted(r.details)) for r in results)


def test_engines_agree_on_every_sample_and_broken_manifest(patched: dict[str, Path]) -> None:
    """regorus and regopy give the same results on the policy samples and tests/data."""
    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    fast, reference = make_evaluator(policies, "regorus"), make_evaluator(policies, "regopy")
    files = sorted((REPO_ROOT / "policies").glob("*/*allowed*.yaml"))
    files += [*sorted((DATA / "good").glob("*.yaml")), *sorted((DATA / "broken").glob("*.yaml"))]
    files += sorted(patched.values())
    compared = denied = 0
    for path in files:
        for resource in loader.parse_file(path, str(path)).resources:
            expected = _as_tuples(reference.evaluate(resource.obj))
            assert _as_tuples(fast.evaluate(resource.obj)) == expected, f"{path}: {resource.ref}"
            compared += 1
            denied += bool(expected)
    assert compared > 100 and denied > 20  # the comparison covered real findings


def test_object_too_deep_for_the_engine_is_one_finding(tmp_path: Path, engine: str) -> None:
    (tmp_path / "single.rego").write_text(SINGLE_VALUE_POLICY, encoding="utf-8")
    evaluator = make_evaluator(load_policies([tmp_path]), engine)
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(200):  # regorus reads at most 128 levels of JSON
        deep = {"nested": deep}
    results = evaluator.evaluate({"kind": "Thing", "metadata": {"name": "t"}, "spec": deep})
    errors = [r for r in results if r.rule == "policy-error"]
    if engine in ("auto", "regorus"):  # the VM cannot take it either: the interpreter says so
        assert len(results) == len(errors) == 1
        assert "cannot pass the object to rego" in errors[0].message
    else:  # rego-cpp takes it
        assert ("deny", "always") in [(r.rule, r.message) for r in results]


V0_POLICY = """
package main

deny[msg] {
	input.kind == "Pod"
	msg := sprintf("Pod %s: bare pods are not allowed", [input.metadata.name])
}

warn_name = "short name" {
	count(input.metadata.name) < 3
}

exception[rules] {
	input.metadata.labels.exempt == "yes"
	rules := ["name"]
}
"""


def test_rego_v0_policies_with_regorus(tmp_path: Path) -> None:
    (tmp_path / "v0.rego").write_text(V0_POLICY, encoding="utf-8")
    with pytest.raises(UserError, match="keyword is required") as raised:
        make_evaluator(load_policies([tmp_path]), "regorus")  # v1 is the default
    assert raised.value.hint == "policies in Rego v0 syntax? pass --rego-version v0"
    policies = load_policies([tmp_path], rego_version="v0")
    assert policies.complete == {"warn_name"}
    evaluator = make_evaluator(policies, "regorus")
    pod = {"kind": "Pod", "metadata": {"name": "p", "labels": {}}}
    assert sorted((r.rule, r.message) for r in evaluator.evaluate(pod)) == [
        ("deny", "Pod p: bare pods are not allowed"),
        ("warn_name", "short name"),
    ]
    exempt = {"kind": "Pod", "metadata": {"name": "p", "labels": {"exempt": "yes"}}}
    assert [r.rule for r in evaluator.evaluate(exempt)] == ["deny"]


def test_rego_v0_is_refused_by_regopy(tmp_path: Path) -> None:
    (tmp_path / "v0.rego").write_text(V0_POLICY, encoding="utf-8")
    with pytest.raises(UserError, match="regopy evaluates Rego v1 only"):
        make_evaluator(load_policies([tmp_path], rego_version="v0"), "regopy")
    with pytest.raises(UserError, match="expected v1 or v0"):
        load_policies([tmp_path], rego_version="v2")


SECURITY_PACKAGE = """
package kubernetes.security

import rego.v1

deny_privileged contains "privileged container" if input.spec.privileged

warn_host contains "host network" if input.spec.hostNetwork

exception contains ["host"] if input.metadata.labels.host == "ok"
"""


def test_namespaces_like_conftest(tmp_path: Path, engine: str) -> None:
    (tmp_path / "main.rego").write_text(POLICY, encoding="utf-8")
    (tmp_path / "security.rego").write_text(SECURITY_PACKAGE, encoding="utf-8")
    (tmp_path / "data.yaml").write_text("limits:\n  size: 10\n", encoding="utf-8")
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"exempt": "yes", "host": "no"}},
        "spec": {"privileged": True, "hostNetwork": True, "color": "red"},
    }

    def rules(**options: object) -> list[str]:
        policies = load_policies([tmp_path], **options)  # type: ignore[arg-type]
        return sorted(r.rule for r in make_evaluator(policies, engine).evaluate(pod))

    # default: package main only (its exception silences deny_color)
    assert rules() == ["deny"]
    assert rules(namespaces=["kubernetes.security"]) == [
        "kubernetes.security.deny_privileged",
        "kubernetes.security.warn_host",
    ]
    everything = ["deny", "kubernetes.security.deny_privileged", "kubernetes.security.warn_host"]
    assert rules(all_namespaces=True) == everything
    assert rules(namespaces=["main", "kubernetes.security"]) == everything
    # an exception only silences rules of its own package
    pod["metadata"] = {"name": "web", "labels": {"host": "ok"}}
    assert rules(all_namespaces=True) == [
        "deny",
        "deny_color",
        "kubernetes.security.deny_privileged",
    ]


def test_a_namespace_without_rules_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "security.rego").write_text(SECURITY_PACKAGE, encoding="utf-8")
    with pytest.raises(UserError, match="no deny/violation/warn rules in package main") as raised:
        load_policies([tmp_path])
    assert "packages with rules: kubernetes.security" in raised.value.message
    with pytest.raises(UserError, match=r"in package kubernetes\.securty"):
        load_policies([tmp_path], namespaces=["kubernetes.securty"])
    (tmp_path / "security.rego").unlink()
    (tmp_path / "helpers.rego").write_text("package lib.x\n\nanswer := 42\n", encoding="utf-8")
    assert load_policies([tmp_path]).empty  # no rules anywhere: nothing to check, no error


def test_the_vm_treats_a_failing_builtin_as_conftest_does() -> None:
    """``containers: "x"`` makes the lib's iteration fail inside several rules. The interpreter
    (``--engine regorus``) reports each failure; the compiled VM (``auto``) and rego-cpp leave
    those expressions undefined, as conftest and OPA do without their strict built-in errors
    flag, and every other finding is the same (the schema check reports the object anyway)."""
    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "model-api-production", "labels": {}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": "x"}},
        },
    }

    def answers(engine: str) -> list[tuple[str, str, str]]:
        results = make_evaluator(policies, engine).evaluate(deployment)
        return sorted((r.rule, r.severity, r.message) for r in results)

    strict = answers("regorus")
    assert [a for a in strict if a[0] == "policy-error"]
    assert answers("auto") == answers("regopy") == [a for a in strict if a[0] != "policy-error"]
