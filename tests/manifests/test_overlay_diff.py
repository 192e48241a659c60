"""Staging and production differ only in what must differ.

Both overlays are rendered with real kustomize; every object is flattened to ``path -> value``
and every path whose value differs (or exists on one side only) must match the documented
list below (docs/DEPLOYMENT.md, "What differs between environments"). Anything else, say a
probe, a security setting or an AnalysisTemplate threshold that drifted apart, fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from typing import Any

Render = Callable[[str], tuple[dict[str, Any], ...]]

# (kind pattern, path pattern, reason). Paths are dotted, list items are [i].
ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("*", "metadata.namespace", "namespace"),
    ("*", "metadata.labels.app.kubernetes.io/environment", "environment label"),
    ("Namespace", "metadata.name", "namespace"),
    ("Rollout", "spec.template.spec.containers[0].image", "image"),
    ("Rollout", "spec.template.spec.containers[0].resources.*", "resources"),
    ("Rollout", "spec.strategy.canary.steps*", "canary steps"),
    ("Rollout", "spec.strategy.canary.analysis*", "background analysis"),
    ("HorizontalPodAutoscaler", "spec.minReplicas", "replica bounds"),
    ("HorizontalPodAutoscaler", "spec.maxReplicas", "replica bounds"),
    ("Ingress", "spec.rules[0].host", "host"),
    ("Ingress", "spec.tls[0].hosts[0]", "host"),
    ("Certificate", "spec.dnsNames[0]", "host"),
    ("Certificate", "spec.issuerRef.name", "issuer"),
    ("ExternalSecret", "spec.data[*].remoteRef.key", "Vault path"),
)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if not value:
            yield prefix, {}
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if not value:
            yield prefix, []
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    # The Namespace is the one object whose *name* is the environment.
    name = "*" if obj["kind"] == "Namespace" else obj["metadata"]["name"]
    return obj["kind"], name


def differences(
    left: tuple[dict[str, Any], ...], right: tuple[dict[str, Any], ...]
) -> list[tuple[str, str, str]]:
    """``(kind, name, path)`` of every differing leaf, plus objects present on one side only."""
    a = {_key(o): dict(flatten(o)) for o in left}
    b = {_key(o): dict(flatten(o)) for o in right}
    out = [(kind, name, "<object>") for kind, name in sorted(set(a) ^ set(b))]
    for key in sorted(set(a) & set(b)):
        for path in sorted(set(a[key]) | set(b[key])):
            if a[key].get(path, KeyError) != b[key].get(path, KeyError):
                out.append((*key, path))
    return out


def _matches(kind: str, path: str, kind_pattern: str, path_pattern: str) -> bool:
    # "[" opens a character class in fnmatch; list indexes in the patterns are literal.
    return fnmatchcase(kind, kind_pattern) and fnmatchcase(path, path_pattern.replace("[", "[[]"))


def disallowed(diffs: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [
        (kind, name, path)
        for kind, name, path in diffs
        if not any(_matches(kind, path, k, p) for k, p, _ in ALLOWED)
    ]


def test_overlays_differ_only_in_documented_places(render: Render) -> None:
    diffs = differences(render("overlays/staging"), render("overlays/production"))
    assert disallowed(diffs) == []


def test_the_expected_differences_are_there(render: Render) -> None:
    """Every documented reason really differs (the list is not stale)."""
    diffs = differences(render("overlays/staging"), render("overlays/production"))
    used = {
        reason for kind, _, path in diffs for k, p, reason in ALLOWED if _matches(kind, path, k, p)
    }
    assert used == {reason for _, _, reason in ALLOWED}


def test_a_drifted_setting_is_caught() -> None:
    base = {
        "kind": "Rollout",
        "metadata": {"name": "model-api"},
        "spec": {
            "template": {
                "spec": {"containers": [{"image": "a", "readinessProbe": {"periodSeconds": 5}}]}
            }
        },
    }
    drifted = {
        "kind": "Rollout",
        "metadata": {"name": "model-api"},
        "spec": {
            "template": {
                "spec": {"containers": [{"image": "b", "readinessProbe": {"periodSeconds": 50}}]}
            }
        },
    }
    diffs = differences((base,), (drifted,))
    assert disallowed(diffs) == [
        ("Rollout", "model-api", "spec.template.spec.containers[0].readinessProbe.periodSeconds")
    ]


def test_an_object_in_one_overlay_only_is_caught() -> None:
    extra = {"kind": "ConfigMap", "metadata": {"name": "debug"}}
    assert disallowed(differences((), (extra,))) == [("ConfigMap", "debug", "<object>")]


def test_docs_list_every_difference() -> None:
    from tests.support.paths import REPO_ROOT

    text = (REPO_ROOT / "docs" / "DEPLOYMENT.md").read_text(encoding="utf-8")
    for _, _, reason in ALLOWED:
        assert reason in text, f"docs/DEPLOYMENT.md does not mention the {reason} difference"
