"""The AnalysisTemplates decide canaries: their conditions, counts and queries.

Conditions are evaluated with the repository's re-implementation of Argo Rollouts'
``EvaluateResult`` (tools/analysis, which follows expr-lang semantics) on the result shapes the
Prometheus provider produces: a vector is a list of floats, an empty vector an empty list.
Queries, with their arguments filled in, must parse with promtool.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tools.analysis.conditions import evaluate_result
from tools.analysis.phases import Phase

Render = Callable[[str], tuple[dict[str, Any], ...]]

PROMETHEUS = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
# Arguments the Rollout supplies at run time (the others have defaults in the templates).
RUNTIME_ARGS = {
    "namespace": "model-api-production",
    "canary-hash": "6d4f8b9c7",
    "stable-hash": "58c9d7f6b",
}
NAN = math.nan
INF = math.inf

# metric name -> (results that must pass, results that must fail) at the default thresholds.
CASES: dict[str, tuple[list[list[float]], list[list[float]]]] = {
    "success-rate": ([[1.0], [0.995], [0.99]], [[0.95], [0.0], [0.9899]]),
    "p95-within-slo": ([[0.01], [0.499]], [[0.5], [0.75], [INF]]),
    "p95-vs-stable": ([[0.0], [-0.2], [0.1]], [[0.11], [0.48], [INF]]),
    "prediction-drift": ([[0.0], [0.12], [0.2]], [[0.21], [0.6], [1.0]]),
    "accuracy-vs-stable": ([[0.0], [0.03], [-0.049]], [[-0.051], [-0.25], [-1.0]]),
}
# Opt-in templates: not in every canary step, because their data may not exist during one
# (live accuracy needs ground truth that arrives within the analysis; see the template).
OPT_IN = {"accuracy"}
NO_DATA: list[list[float]] = [[], [NAN]]


def _templates() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((REPO_ROOT / "rollouts").glob("analysistemplate-*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[path.stem.removeprefix("analysistemplate-")] = doc
    return out


TEMPLATES = _templates()


def _args(template: dict[str, Any]) -> dict[str, str]:
    args = {a["name"]: a["value"] for a in template["spec"]["args"] if "value" in a}
    return {
        **args,
        **{
            k: v
            for k, v in RUNTIME_ARGS.items()
            if any(a["name"] == k for a in template["spec"]["args"])
        },
    }


def _fill(text: str, args: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return args[match.group(1)]

    return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", value, text)


def _metrics() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    return [
        (name, metric, _args(template))
        for name, template in TEMPLATES.items()
        for metric in template["spec"]["metrics"]
    ]


def test_the_templates_exist() -> None:
    assert set(TEMPLATES) == {"success-rate", "latency-p95", "prediction-drift", "accuracy"}
    for name, template in TEMPLATES.items():
        assert template["metadata"]["name"] == name


@pytest.mark.parametrize(("template", "metric", "args"), _metrics(), ids=lambda v: str(v)[:30])
def test_conditions_judge_results(
    template: str, metric: dict[str, Any], args: dict[str, str]
) -> None:
    success = _fill(metric["successCondition"], args)
    failure = _fill(metric["failureCondition"], args)
    passing, failing = CASES[metric["name"]]
    for result in passing:
        assert evaluate_result(result, success, failure).phase is Phase.SUCCESSFUL, result
    for result in failing:
        assert evaluate_result(result, success, failure).phase is Phase.FAILED, result


@pytest.mark.parametrize(("template", "metric", "args"), _metrics(), ids=lambda v: str(v)[:30])
def test_no_data_is_never_successful(
    template: str, metric: dict[str, Any], args: dict[str, str]
) -> None:
    """Empty vector (no series) and NaN (0/0, no traffic in the window) end Inconclusive."""
    success = _fill(metric["successCondition"], args)
    failure = _fill(metric["failureCondition"], args)
    for result in NO_DATA:
        assert evaluate_result(result, success, failure).phase is Phase.INCONCLUSIVE, result


@pytest.mark.parametrize(("template", "metric", "args"), _metrics(), ids=lambda v: str(v)[:30])
def test_measurement_plan_is_finite_and_consistent(
    template: str, metric: dict[str, Any], args: dict[str, str]
) -> None:
    count = int(metric["count"])
    assert 1 < count <= 10, "step analysis needs a finite, short count"
    assert metric["interval"]
    assert 0 <= metric["failureLimit"] < count
    assert 0 <= metric["inconclusiveLimit"] < count
    assert metric["provider"]["prometheus"]["address"] == PROMETHEUS


@pytest.mark.parametrize(("template", "metric", "args"), _metrics(), ids=lambda v: str(v)[:30])
def test_queries_select_the_canary_by_pod_template_hash(
    template: str, metric: dict[str, Any], args: dict[str, str]
) -> None:
    query = metric["provider"]["prometheus"]["query"]
    assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in query
    assert 'namespace="{{args.namespace}}"' in query
    assert "[{{args.window}}]" in query
    assert re.findall(r"\{\{\s*args\.([\w-]+)\s*\}\}", query + str(metric)), "no args used"
    declared = {a["name"] for a in TEMPLATES[template]["spec"]["args"]}
    used = set(re.findall(r"\{\{\s*args\.([\w-]+)\s*\}\}", yaml.safe_dump(metric)))
    assert used <= declared, f"undeclared args {used - declared}"


def test_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    rules = [
        {
            "record": f"analysis:{template.replace('-', '_')}:{metric['name'].replace('-', '_')}",
            "expr": _fill(metric["provider"]["prometheus"]["query"], {**args, "window": "15s"}),
        }
        for template, metric, args in _metrics()
    ]
    path = tmp_path / "analysis.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overlay", ["overlays/staging", "overlays/production"])
def test_rollout_runs_every_template_as_a_step_with_runtime_args(
    render: Render, overlay: str
) -> None:
    (rollout,) = [o for o in render(overlay) if o["kind"] == "Rollout"]
    canary = rollout["spec"]["strategy"]["canary"]
    steps = [s["analysis"] for s in canary["steps"] if "analysis" in s]
    assert steps, "no step analysis"
    for analysis in steps:
        names = {t["templateName"] for t in analysis["templates"]}
        assert names == set(TEMPLATES) - OPT_IN
        args = {a["name"]: a.get("valueFrom") for a in analysis["args"]}
        assert args["canary-hash"] == {"podTemplateHashValue": "Latest"}
        assert args["stable-hash"] == {"podTemplateHashValue": "Stable"}
        assert args["namespace"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    # A warm-up pause precedes the first analysis, so the rate window holds canary samples.
    first = next(i for i, s in enumerate(canary["steps"]) if "analysis" in s)
    assert any("pause" in s for s in canary["steps"][:first])
    # HTTP and gRPC Ingresses both follow the canary weights.
    assert canary["trafficRouting"] == {
        "nginx": {"stableIngresses": ["model-api", "model-api-grpc"]}
    }
    assert canary["stableService"] == "model-api"
    assert canary["canaryService"] == "model-api-canary"


def test_production_canary_is_progressive_with_background_analysis(render: Render) -> None:
    (rollout,) = [o for o in render("overlays/production") if o["kind"] == "Rollout"]
    canary = rollout["spec"]["strategy"]["canary"]
    weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
    assert weights == [10, 25, 50]
    background = canary["analysis"]
    assert {t["templateName"] for t in background["templates"]} >= {"success-rate", "latency-p95"}
    assert canary["steps"][background["startingStep"]] == {"setWeight": 25}
    assert canary["dynamicStableScale"] is False
    assert canary["abortScaleDownDelaySeconds"] > 0


def test_staging_canary_is_short(render: Render) -> None:
    (rollout,) = [o for o in render("overlays/staging") if o["kind"] == "Rollout"]
    weights = [
        s["setWeight"] for s in rollout["spec"]["strategy"]["canary"]["steps"] if "setWeight" in s
    ]
    assert weights == [50]
