"""Cross-object checks of availability and identity: PodDisruptionBudgets, RBAC, tokens.

* ``pdb-missing`` — a workload run with more than one replica (or scaled by an HPA) has no
  PodDisruptionBudget selecting its pods, so a node drain may take all of them at once
  (kube-linter ``no-pdb``-style; Polaris ``missingPodDisruptionBudget``).
* ``pdb-blocks-eviction`` — a PDB whose ``minAvailable`` (count or percentage, rounded up as the
  disruption controller does) or ``maxUnavailable`` (rounded up) leaves no pod evictable at the
  workload's floor (the HPA's ``minReplicas``, else ``replicas``): every drain blocks
  (kube-linter ``pdb-min-available`` / ``pdb-max-unavailable``).
* ``ref-role`` — a RoleBinding/ClusterRoleBinding's ``roleRef`` names a Role/ClusterRole that
  is not in the render; the built-in ClusterRoles (``cluster-admin``, ``admin``, ``edit``,
  ``view`` and ``system:*``) are exempt. Kubernetes accepts the binding but it grants nothing.
* ``sa-automount`` — a ServiceAccount with ``automountServiceAccountToken: true``: every pod using
  it gets an API token unless the pod turns it off; an error unless every pod of the render
  that uses the account does (CIS 5.1.6; kube-linter ``access-to-...`` family).
"""

from __future__ import annotations

import math
import re
from typing import Any

from tools.validate.checks.base import Context, Report
from tools.validate.checks.scope import Scope
from tools.validate.checks.workloads import dig, pod_template
from tools.validate.findings import Resource

BUILTIN_CLUSTER_ROLES = frozenset({"cluster-admin", "admin", "edit", "view"})
# Workloads that keep a number of replicas running (Jobs and DaemonSets do not scale this way).
_REPLICATED = frozenset(
    {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController", "Rollout"}
)
_PERCENT = re.compile(r"(\d+)%\Z")


def _floor(scope: Scope, workload: Resource) -> tuple[int, str]:
    """How many pods the workload runs at its lowest: (count, what decides it)."""
    for hpa in scope.in_namespace("HorizontalPodAutoscaler", workload.namespace):
        target = dig(hpa.obj, "spec", "scaleTargetRef")
        if (
            isinstance(target, dict)
            and target.get("kind") == workload.kind
            and target.get("name") == workload.name
        ):
            minimum = dig(hpa.obj, "spec", "minReplicas")
            count = minimum if isinstance(minimum, int) and not isinstance(minimum, bool) else 1
            return count, f"HorizontalPodAutoscaler {hpa.name} minReplicas {count}"
    replicas = dig(workload.obj, "spec", "replicas")
    count = replicas if isinstance(replicas, int) and not isinstance(replicas, bool) else 1
    return count, f"replicas {count}"


def _scaled(value: Any, total: int) -> int | None:
    """An IntOrString as a pod count of ``total``, percentages rounded up (as the controller)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return math.ceil(int(match.group(1)) * total / 100)
        if value.isdigit():
            return int(value)
    return None


def _template_of(scope: Scope, workload: Resource) -> dict[str, Any] | None:
    found = pod_template(workload.obj)
    if found is None and workload.kind == "Rollout":
        ref = dig(workload.obj, "spec", "workloadRef", "name")
        target = scope.find("Deployment", ref, workload.namespace) if isinstance(ref, str) else None
        found = pod_template(target.obj) if target is not None else None
    return found[0] if found is not None else None


def check_disruption_budgets(scope: Scope, context: Context, report: Report) -> None:
    budgets = scope.by_kind.get("PodDisruptionBudget", [])
    covered: dict[int, list[Resource]] = {}
    for pdb in budgets:
        selector = dig(pdb.obj, "spec", "selector")
        for workload, _ in scope.matching_templates(selector, pdb.namespace):
            covered.setdefault(id(workload), []).append(pdb)
    for kind in sorted(_REPLICATED):
        for workload in scope.by_kind.get(kind, []):
            if kind == "Deployment" and _is_rollout_workload(scope, workload):
                continue  # the Rollout that references it is the one that runs
            floor, why = _floor(scope, workload)
            scaled = why.startswith("HorizontalPodAutoscaler")
            pdbs = covered.get(id(workload), [])
            if not pdbs:
                if floor > 1 or scaled:
                    report(
                        workload,
                        "error",
                        "pdb-missing",
                        f"{workload.ref}: runs {why} but no PodDisruptionBudget selects its "
                        "pods; a node drain may evict all of them at once",
                        ("spec", "replicas") if not scaled else ("metadata", "name"),
                        hint="add a PodDisruptionBudget (e.g. maxUnavailable: 1) selecting the "
                        "pod template's labels",
                    )
                continue
            for pdb in pdbs:
                _check_budget(pdb, workload, floor, why, report)


def _check_budget(pdb: Resource, workload: Resource, floor: int, why: str, report: Report) -> None:
    spec = pdb.obj.get("spec")
    if not isinstance(spec, dict):
        return
    if "minAvailable" in spec:
        needed = _scaled(spec["minAvailable"], floor)
        if needed is not None and floor - needed <= 0 and floor > 0:
            report(
                pdb,
                "error",
                "pdb-blocks-eviction",
                f"PodDisruptionBudget {pdb.name}: minAvailable {spec['minAvailable']} of "
                f"{workload.ref} at {why} leaves no pod evictable; every node drain blocks",
                ("spec", "minAvailable"),
                hint=f"use maxUnavailable: 1, or minAvailable below {floor}",
            )
    elif "maxUnavailable" in spec:
        allowed = _scaled(spec["maxUnavailable"], floor)
        if allowed is not None and allowed <= 0 and floor > 0:
            report(
                pdb,
                "error",
                "pdb-blocks-eviction",
                f"PodDisruptionBudget {pdb.name}: maxUnavailable {spec['maxUnavailable']} of "
                f"{workload.ref} at {why} allows no eviction; every node drain blocks",
                ("spec", "maxUnavailable"),
                hint="use maxUnavailable: 1 (or a percentage that rounds up to at least 1)",
            )


def _is_rollout_workload(scope: Scope, deployment: Resource) -> bool:
    for rollout in scope.in_namespace("Rollout", deployment.namespace):
        ref = dig(rollout.obj, "spec", "workloadRef")
        if (
            isinstance(ref, dict)
            and ref.get("kind") == "Deployment"
            and ref.get("name") == deployment.name
        ):
            return True
    return False


def check_role_bindings(scope: Scope, context: Context, report: Report) -> None:
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        for binding in scope.by_kind.get(kind, []):
            ref = dig(binding.obj, "roleRef")
            if not isinstance(ref, dict):
                continue
            role_kind, name = ref.get("kind"), ref.get("name")
            if not isinstance(name, str) or role_kind not in ("Role", "ClusterRole"):
                continue
            if role_kind == "ClusterRole" and (
                name in BUILTIN_CLUSTER_ROLES or name.startswith("system:")
            ):
                continue
            if scope.find(str(role_kind), name, binding.namespace) is not None:
                continue
            where = "cluster" if role_kind == "ClusterRole" else f"namespace {binding.namespace}"
            report(
                binding,
                "error",
                "ref-role",
                f"{kind} {binding.name}: roleRef {role_kind} {name!r} is not defined in the "
                f"{where}; the binding grants nothing",
                ("roleRef", "name"),
            )


def check_service_account_tokens(scope: Scope, context: Context, report: Report) -> None:
    accounts = [
        sa
        for sa in scope.by_kind.get("ServiceAccount", [])
        if dig(sa.obj, "automountServiceAccountToken") is True
    ]
    if not accounts:
        return
    users: dict[int, list[tuple[Resource, bool]]] = {}
    for resource in scope.resources:
        found = pod_template(resource.obj)
        if found is None:
            continue
        spec = found[0].get("spec")
        if not isinstance(spec, dict):
            continue
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        account = scope.find("ServiceAccount", str(name), resource.namespace)
        if account is not None:
            users.setdefault(id(account), []).append(
                (resource, spec.get("automountServiceAccountToken") is False)
            )
    for account in accounts:
        mounting = [r for r, off in users.get(id(account), []) if not off]
        if mounting or not users.get(id(account)):
            who = (
                "pods of " + ", ".join(str(r.ref) for r in mounting[:3])
                if mounting
                else "every pod that uses it"
            )
            report(
                account,
                "error",
                "sa-automount",
                f"ServiceAccount {account.name}: automountServiceAccountToken: true mounts an "
                f"API token into {who}",
                ("automountServiceAccountToken",),
                hint="set automountServiceAccountToken: false on the ServiceAccount and mount a "
                "token only in the pods that call the API",
            )
