"""API-server validation beyond the schema, and the cross-object availability checks.

The syntax cases come from apimachinery's validation tests (``IsDNS1123Subdomain``,
``IsQualifiedName``, ``IsValidLabelValue``, ``IsValidPortName``) and resource.Quantity's
grammar; the end-to-end cases run ``gitops validate`` on small manifests.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.validate import Report
from tools.validate.checks.apiserver import (
    label_value_problem,
    port_name_problem,
    qualified_name_problem,
    quantity,
    subdomain_problem,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500m", "0.5"),
        ("2", "2"),
        ("1Gi", str(2**30)),
        ("128Mi", str(128 * 2**20)),
        ("1e3", "1000"),
        ("1.5k", "1500"),
        ("100n", "1.00E-7"),
        (".5", "0.5"),
        (3, "3"),
    ],
)
def test_quantities(value: object, expected: str) -> None:
    assert quantity(value) == Decimal(expected)


@pytest.mark.parametrize("value", ["1Gb", "abc", "", "1.2.3", True, None, "1 Gi"])
def test_invalid_quantities(value: object) -> None:
    assert quantity(value) is None


@pytest.mark.parametrize("name", ["a", "a-b", "a.b", "0", "a" * 253, "web-1.svc"])
def test_valid_subdomains(name: str) -> None:
    assert subdomain_problem(name) is None


@pytest.mark.parametrize("name", ["A", "-a", "a-", "a_b", "a..b", ".a", "a" * 254, "a b"])
def test_invalid_subdomains(name: str) -> None:
    assert subdomain_problem(name) is not None


@pytest.mark.parametrize(
    "key", ["app", "app.kubernetes.io/name", "A_b.C-d", "example.com/x", "a" * 63]
)
def test_valid_label_keys(key: str) -> None:
    assert qualified_name_problem(key) is None


@pytest.mark.parametrize(
    "key", ["", "-a", "a-", "/a", "a/", "Example.com/x", "a/b/c", "a" * 64, "x/" + "a" * 64]
)
def test_invalid_label_keys(key: str) -> None:
    assert qualified_name_problem(key) is not None


@pytest.mark.parametrize("value", ["", "v1", "1.2.3", "a_b-c.d", "a" * 63])
def test_valid_label_values(value: str) -> None:
    assert label_value_problem(value) is None


@pytest.mark.parametrize("value", ["-a", "a-", "a b", "a/b", "a" * 64])
def test_invalid_label_values(value: str) -> None:
    assert label_value_problem(value) is not None


@pytest.mark.parametrize("name", ["http", "grpc", "http-metrics", "a1", "x" * 15])
def test_valid_port_names(name: str) -> None:
    assert port_name_problem(name) is None


@pytest.mark.parametrize("name", ["", "x" * 16, "HTTP", "-a", "a-", "a--b", "8080", "a_b"])
def test_invalid_port_names(name: str) -> None:
    assert port_name_problem(name) is not None


# --- end to end ------------------------------------------------------------------------------


def deployment(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        },
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": body,
    }


def run(tmp_path: Path, validate: Callable[..., Report], *docs: dict[str, Any]) -> Report:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    return validate(path, policy_dirs=[])


def rule_hits(report: Report, rule: str) -> list[str]:
    return [f.message for f in report.findings if f.rule == rule]


def test_a_selector_that_matches_the_template_passes(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    report = run(tmp_path, validate, deployment())
    assert rule_hits(report, "api-selector") == []
    expressions = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}
    assert (
        rule_hits(run(tmp_path, validate, deployment(selector=expressions)), "api-selector") == []
    )


def test_an_empty_or_foreign_selector_is_refused(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    assert rule_hits(run(tmp_path, validate, deployment(selector={})), "api-selector")
    other = deployment(selector={"matchLabels": {"app": "web", "tier": "x"}})
    (message,) = rule_hits(run(tmp_path, validate, other), "api-selector")
    assert "does not match the pod template's labels" in message


def test_a_replication_controller_selector_is_a_map(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    rc = deployment(selector={"app": "other"})
    rc.update(apiVersion="v1", kind="ReplicationController")
    assert rule_hits(run(tmp_path, validate, rc), "api-selector")
    rc["spec"]["selector"] = {"app": "web"}
    assert rule_hits(run(tmp_path, validate, rc), "api-selector") == []


def test_a_job_selector_is_checked_only_with_manual_selector(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "d"},
        "spec": {
            "selector": {"matchLabels": {"x": "y"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox:1"}],
                },
            },
        },
    }
    assert rule_hits(run(tmp_path, validate, job), "api-selector") == []
    job["spec"]["manualSelector"] = True
    assert rule_hits(run(tmp_path, validate, job), "api-selector")


def test_limit_equal_to_request_passes_and_below_fails(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    ok = deployment()
    ok["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "0.5", "memory": "1024Mi"},
    }
    assert rule_hits(run(tmp_path, validate, ok), "api-resources") == []
    bad = deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "1"},
        "limits": {"cpu": "999m"},
    }
    (message,) = rule_hits(run(tmp_path, validate, bad), "api-resources")
    assert "requests cpu 1 but its limit is 999m" in message


def test_a_memory_limit_without_a_request_is_defaulted_not_flagged(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    """Kubernetes sets the request to the limit, so the resources policy must not flag it."""
    manifest = deployment()
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "100m"},
        "limits": {"memory": "256Mi"},
    }
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    report = validate(path)
    assert not [m for m in rule_hits(report, "deny_resources") if "requests.memory" in m]


def test_pods_inherit_automount_from_their_service_account(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "runner", "namespace": "demo"},
        "automountServiceAccountToken": False,
    }
    workload = deployment()
    workload["spec"]["template"]["spec"]["serviceAccountName"] = "runner"
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump_all([account, workload]), encoding="utf-8")
    assert rule_hits(validate(path), "deny_automount_token") == []
    account["automountServiceAccountToken"] = True
    path.write_text(yaml.safe_dump_all([account, workload]), encoding="utf-8")
    report = validate(path)
    assert rule_hits(report, "deny_automount_token") and rule_hits(report, "sa-automount")


def pdb(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def hpa(minimum: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": minimum,
            "maxReplicas": 10,
        },
    }


@pytest.mark.parametrize(
    ("docs", "blocked"),
    [
        ([deployment(replicas=3), pdb(minAvailable=3)], True),
        ([deployment(replicas=3), pdb(minAvailable=2)], False),
        ([deployment(replicas=3), pdb(minAvailable="100%")], True),
        ([deployment(replicas=3), pdb(minAvailable="67%")], True),  # ceil(2.01) = 3
        ([deployment(replicas=3), pdb(minAvailable="66%")], False),  # ceil(1.98) = 2
        ([deployment(replicas=5), hpa(3), pdb(minAvailable=3)], True),  # the HPA floor counts
        ([deployment(replicas=5), hpa(4), pdb(minAvailable=3)], False),
        ([deployment(replicas=3), pdb(maxUnavailable=0)], True),
        ([deployment(replicas=3), pdb(maxUnavailable="10%")], False),  # rounds up to 1
    ],
)
def test_budgets_that_leave_nothing_evictable(
    tmp_path: Path, validate: Callable[..., Report], docs: list[dict[str, Any]], blocked: bool
) -> None:
    assert bool(rule_hits(run(tmp_path, validate, *docs), "pdb-blocks-eviction")) is blocked


def test_replicated_or_scaled_workloads_need_a_budget(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    assert rule_hits(run(tmp_path, validate, deployment(replicas=2)), "pdb-missing")
    assert rule_hits(run(tmp_path, validate, deployment(replicas=1), hpa(1)), "pdb-missing")
    assert rule_hits(run(tmp_path, validate, deployment(replicas=1)), "pdb-missing") == []
    covered = run(tmp_path, validate, deployment(replicas=2), pdb(maxUnavailable=1))
    assert rule_hits(covered, "pdb-missing") == []


def test_bindings_to_missing_roles_and_builtin_roles(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    def binding(kind: str, name: str) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"b-{name.replace(':', '-')}", "namespace": "demo"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "demo"}],
        }

    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "reader", "namespace": "demo"},
        "rules": [],
    }
    report = run(
        tmp_path,
        validate,
        role,
        binding("Role", "reader"),
        binding("ClusterRole", "view"),
        binding("ClusterRole", "system:auth-delegator"),
        binding("Role", "writer"),
        binding("ClusterRole", "custom"),
    )
    messages = rule_hits(report, "ref-role")
    assert len(messages) == 2
    assert any("Role 'writer'" in m for m in messages)
    assert any("ClusterRole 'custom'" in m for m in messages)


def test_names_labels_and_ports_as_the_api_server_checks_them(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    bad = deployment()
    bad["metadata"]["name"] = "Web"
    bad["metadata"]["labels"] = {"app.kubernetes.io/name": "x" * 64}
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"name": "metrics-endpoint-x", "containerPort": 9000},
        {"name": "http", "containerPort": 1},
        {"name": "http", "containerPort": 2},
    ]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "1web", "namespace": "demo"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 81}]},
    }
    report = run(tmp_path, validate, bad, service)
    assert len(rule_hits(report, "api-name")) == 2
    assert len(rule_hits(report, "api-label")) == 1
    assert len(rule_hits(report, "api-port-name")) == 4  # too long, duplicate, 2 unnamed


def test_a_custom_resource_in_an_unserved_version_is_an_error(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    from tests.support.validate import widget, widget_crd

    crd = widget_crd({"type": "object", "properties": {"spec": {"type": "object"}}})
    crd["spec"]["versions"][0]["served"] = False
    report = run(tmp_path, validate, crd, widget({}))
    assert rule_hits(report, "api-not-served"), [(f.rule, f.message) for f in report.findings]
