"""Property: whatever manifest text comes in, validation ends in a report, never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.validate import ValidateOptions, validate_paths

KINDS = [
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("networking.k8s.io/v1", "Ingress"),
    ("example.com/v1", "Unknown"),
]
KEYS = st.sampled_from(
    ["spec", "template", "containers", "image", "ports", "name", "selector", "replicas",
     "strategy", "canary", "steps", "metadata", "labels", "groups", "rules", "expr", "x"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**12),
    st.floats(allow_nan=False),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=30,
)


@st.composite
def manifests(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs = []
    for _ in range(draw(st.integers(1, 4))):
        api_version, kind = draw(st.sampled_from(KINDS))
        doc: dict[str, Any] = draw(st.dictionaries(KEYS, VALUES, max_size=4))
        doc.update(apiVersion=api_version, kind=kind)
        if draw(st.booleans()):
            doc["metadata"] = {"name": draw(st.text(min_size=1, max_size=8)), "namespace": "ns"}
        docs.append(doc)
    return docs


SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(docs=manifests(), as_json=st.booleans())
def test_generated_manifests_always_give_a_report(
    docs: list[dict[str, Any]], as_json: bool, tmp_path: Path, options: ValidateOptions
) -> None:
    path = tmp_path / ("m.json" if as_json else "m.yaml")
    path.write_text(json.dumps(docs) if as_json else yaml.safe_dump_all(docs), encoding="utf-8")
    options.run_rule_tests = False
    report = validate_paths([path], options)
    assert report.summary.resources == len(docs)
    assert report.summary.errors == len(report.errors)


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text_gives_findings_not_crashes(
    text: str, tmp_path: Path, options: ValidateOptions
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    options.run_rule_tests = False
    report = validate_paths([path], options)
    assert all(f.file for f in report.findings)
