"""Where pod templates live in the workload kinds we know (shared by references and policies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# kind -> path to the pod template (metadata + spec) inside the object
POD_TEMPLATE_PATHS: dict[str, tuple[str | int, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Rollout": ("spec", "template"),
}


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
    """(template, path) of a workload's pod template; a bare Pod is its own template."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj, ()
    path = POD_TEMPLATE_PATHS.get(str(kind))
    if path is None:
        return None
    template = dig(obj, *path)
    return (template, path) if isinstance(template, dict) else None


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
