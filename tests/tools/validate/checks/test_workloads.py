"""The shared list of pod-bearing kinds covers every built-in kind that carries a PodSpec."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tools.errors import UserError
from tools.validate.checks.schemas import schema_dir, supported_versions
from tools.validate.checks.workloads import KINDS_FILE, kind_list, pod_template

POD_SPEC = "io.k8s.api.core.v1.PodSpec"


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


@cache
def definitions(version: str) -> dict[str, Any]:
    text = (schema_dir(version) / "_definitions.json").read_text(encoding="utf-8")
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


def kinds_with_pod_spec(version: str) -> dict[tuple[str, str], str]:
    """(group, kind) -> definition name, for every kind whose schema reaches a PodSpec."""
    defs = definitions(version)
    graph = {name: _refs(schema) for name, schema in defs.items()}
    reaches: dict[str, bool] = {}

    def reach(name: str) -> bool:
        if name == POD_SPEC:
            return True
        if name not in reaches:
            reaches[name] = False  # cycles do not reach by themselves
            reaches[name] = any(reach(n) for n in graph.get(name, ()))
        return reaches[name]

    found: dict[tuple[str, str], str] = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if not gvk["kind"].endswith("List") and reach(name):
                found[(gvk["group"], gvk["kind"])] = name
    return found


def _follow(version: str, name: str, path: tuple[str, ...]) -> str | None:
    """Definition name reached from *name* along the properties *path*."""
    defs = definitions(version)
    for key in path:
        prop = defs[name].get("properties", {}).get(key)
        refs = _refs(prop) if prop is not None else set()
        if len(refs) != 1:
            return None
        name = refs.pop()
    return name


@pytest.mark.parametrize("version", supported_versions())
def test_every_built_in_kind_with_a_pod_spec_is_in_the_shared_list(version: str) -> None:
    found = kinds_with_pod_spec(version)
    assert len(found) >= 9  # Pod, PodTemplate, RC, RS, Deployment, STS, DS, Job, CronJob
    pods = kind_list().pods
    for (group, kind), name in sorted(found.items()):
        entry = pods.get(kind)
        assert entry is not None, (
            f"{kind} ({group or 'core'}) carries a PodSpec: add it to pod_kinds"
        )
        assert group in entry.groups, (kind, group, entry.groups)
        # the listed path leads to the pod template, whose spec is the PodSpec
        assert _follow(version, name, (*entry.path, "spec")) == POD_SPEC, (kind, entry.path)


def test_the_list_names_the_custom_kinds_too() -> None:
    kinds = kind_list()
    assert "Rollout" in kinds.pods
    assert set(kinds.workflows) == {
        "Workflow",
        "WorkflowTemplate",
        "ClusterWorkflowTemplate",
        "CronWorkflow",
    }


def test_pod_template_reads_the_list() -> None:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "spec": {"template": template}}
    assert pod_template(rc) == (template, ("spec", "template"))
    pt = {"apiVersion": "v1", "kind": "PodTemplate", "template": template}
    assert pod_template(pt) == (template, ("template",))
    pod = {"apiVersion": "v1", "kind": "Pod", "spec": {}}
    assert pod_template(pod) == (pod, ())
    assert pod_template({**rc, "apiVersion": "example.org/v1"}) is None


def test_a_broken_list_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "data.yaml"
    bad.write_text("gitops:\n  pod_kinds: {Pod: {groups: [''], pod: spec}}\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"pod_kinds\.Pod"):
        kind_list(bad)
    (tmp_path / "empty.yaml").write_text("x: 1\n", encoding="utf-8")
    with pytest.raises(UserError, match="gitops"):
        kind_list(tmp_path / "empty.yaml")
    with pytest.raises(UserError, match="cannot read"):
        kind_list(tmp_path / "missing.yaml")


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_every_listed_kind_reaches_the_rego_policies(engine: str) -> None:
    """No kind bypass: a `:latest` image is denied in every pod-bearing kind of the list."""
    from tests.support.paths import REPO_ROOT
    from tools.validate.checks.policies import load_policies, make_evaluator

    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    evaluator = make_evaluator(policies, engine)
    pod = {"spec": {"containers": [{"name": "c", "image": "ghcr.io/example-org/x:latest"}]}}
    kinds = kind_list()
    cases: list[tuple[str, dict[str, Any], str]] = []
    for kind, entry in kinds.pods.items():
        obj: dict[str, Any] = {"kind": kind, "metadata": {"name": "x"}, **pod}
        where = "$.spec.containers[0].image"
        if entry.path:
            obj = {"kind": kind, "metadata": {"name": "x"}}
            node = obj
            for key in entry.path:
                node = node.setdefault(key, {})
            node.update(pod)
            where = "$." + ".".join(entry.path) + ".spec.containers[0].image"
        cases.append((kind, obj, where))
    for kind, entry in kinds.workflows.items():
        obj = {"kind": kind, "metadata": {"name": "x"}}
        node = obj
        for key in entry.path:
            node = node.setdefault(key, {})
        node["templates"] = [{"name": "t", "container": pod["spec"]["containers"][0]}]
        cases.append((kind, obj, "$." + ".".join(entry.path) + ".templates[0].container.image"))
    for kind, obj, where in cases:
        group = sorted((kinds.pods.get(kind) or kinds.workflows[kind]).groups)[0]
        obj["apiVersion"] = f"{group}/v1" if group else "v1"
        results = [r for r in evaluator.evaluate(obj) if r.rule == "deny_image_tag"]
        assert [r.path for r in results] == [where], (kind, results)


def test_the_shipped_list_and_the_policy_data_are_the_same_tables() -> None:
    """The CLI ships its copy; the Rego helpers read policies/data.yaml: the same tables."""
    shipped = yaml.safe_load(KINDS_FILE.read_text(encoding="utf-8"))["gitops"]
    policy_data = yaml.safe_load((REPO_ROOT / "policies" / "data.yaml").read_text(encoding="utf-8"))
    for table in ("pod_kinds", "workflow_kinds"):
        assert shipped[table] == policy_data["gitops"][table], table
