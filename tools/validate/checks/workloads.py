"""Where pods live in the kinds we know: the one list every pod check reads.

The list itself is data, ``pod_kinds.yaml`` next to this module (``gitops.pod_kinds`` and
``gitops.workflow_kinds``), shipped with the package so that the CLI works in any repository.
``policies/data.yaml`` carries the same tables for the Rego helpers (``policies/lib/k8s.rego``,
also under conftest), and a test fails when the two differ: a kind added to both is covered by
the Pod Security check (:mod:`tools.validate.checks.podsecurity`), the reference checks and the
policies alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tools.errors import UserError

# The list as shipped with the package (policies/data.yaml carries the same tables for Rego).
KINDS_FILE = Path(__file__).resolve().with_name("pod_kinds.yaml")


@dataclass(frozen=True)
class PodKind:
    """A kind that carries pods: its API groups and the path to its pod(s)."""

    kind: str
    groups: frozenset[str]
    # pod_kinds: path to the pod template (metadata + spec); () = the object is the Pod.
    # workflow_kinds: path to the Argo workflow spec whose templates become pods.
    path: tuple[str, ...]


@dataclass(frozen=True)
class KindList:
    pods: dict[str, PodKind]
    workflows: dict[str, PodKind]

    def pod_kind(self, obj: dict[str, Any]) -> PodKind | None:
        return _match(self.pods, obj)

    def workflow_kind(self, obj: dict[str, Any]) -> PodKind | None:
        return _match(self.workflows, obj)


def _match(table: dict[str, PodKind], obj: dict[str, Any]) -> PodKind | None:
    entry = table.get(str(obj.get("kind")))
    if entry is None:
        return None
    return entry if group_of(obj.get("apiVersion")) in entry.groups else None


def group_of(api_version: Any) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` -> ``""`` (the core group)."""
    text = api_version if isinstance(api_version, str) else ""
    return text.rpartition("/")[0]


def _entries(table: Any, key: str, field: str, source: Path) -> dict[str, PodKind]:
    if not isinstance(table, dict) or not table:
        raise UserError(f"{source}: gitops.{key} must map kinds to {{groups, {field}}}")
    out: dict[str, PodKind] = {}
    for kind, entry in table.items():
        groups = entry.get("groups") if isinstance(entry, dict) else None
        path = entry.get(field) if isinstance(entry, dict) else None
        if (
            not isinstance(groups, list)
            or not all(isinstance(g, str) for g in groups)
            or not isinstance(path, list)
            or not all(isinstance(p, str) for p in path)
        ):
            raise UserError(f"{source}: gitops.{key}.{kind} needs groups: [..] and {field}: [..]")
        out[str(kind)] = PodKind(str(kind), frozenset(groups), tuple(path))
    return out


@cache
def kind_list(source: Path = KINDS_FILE) -> KindList:
    """The pod-bearing kinds of *source* (read once)."""
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the list of pod-bearing kinds from {source}: {exc}") from exc
    gitops = data.get("gitops") if isinstance(data, dict) else None
    if not isinstance(gitops, dict):
        raise UserError(f"{source}: no gitops: mapping with pod_kinds and workflow_kinds")
    return KindList(
        _entries(gitops.get("pod_kinds"), "pod_kinds", "pod", source),
        _entries(gitops.get("workflow_kinds"), "workflow_kinds", "spec", source),
    )


def dig(obj: Any, *parts: str | int) -> Any:
    current = obj
    for part in parts:
        if isinstance(part, int):
            if not isinstance(current, list) or not 0 <= part < len(current):
                return None
        elif not isinstance(current, dict):
            return None
        current = current[part] if isinstance(part, int) else current.get(part)
    return current


def pod_template(obj: dict[str, Any]) -> tuple[dict[str, Any], tuple[str | int, ...]] | None:
    """(template, path) of the pod template of a pod-bearing kind; a Pod is its own template."""
    entry = kind_list().pod_kind(obj)
    if entry is None:
        return None
    template = dig(obj, *entry.path) if entry.path else obj
    return (template, entry.path) if isinstance(template, dict) else None


def containers(
    pod: dict[str, Any], base: tuple[str | int, ...] = ()
) -> Iterator[tuple[dict[str, Any], tuple[str | int, ...]]]:
    """Every (init)container of a pod template with its path."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    for field in ("initContainers", "containers", "ephemeralContainers"):
        items = spec.get(field)
        if not isinstance(items, list):
            continue
        for index, container in enumerate(items):
            if isinstance(container, dict):
                yield container, (*base, "spec", field, index)


def labels_of(obj: Any) -> dict[str, str]:
    labels = dig(obj, "metadata", "labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def selector_matches(selector: Any, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels/matchExpressions) or a plain map, against *labels*."""
    if not isinstance(selector, dict) or not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        match_labels, expressions = selector, []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    if not match_labels and not expressions:
        return False
    for key, value in match_labels.items():
        if labels.get(str(key)) != str(value):
            return False
    for expr in expressions:
        if not isinstance(expr, dict):
            return False
        key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and (not present or labels[key] not in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True
