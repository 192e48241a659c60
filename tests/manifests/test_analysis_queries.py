"""The AnalysisTemplates' PromQL, evaluated by Prometheus' own engine on synthetic series.

``promtool test rules`` runs each template's query (arguments filled in, a 5m window) against
series shaped like the service's metrics, one namespace per scenario, and compares the result
with the value worked out by hand: what the canary's success rate, p95, KS distance and
accuracy difference are,
when the result is an empty vector, and when it is NaN. (promtool cannot compare NaN with NaN,
so NaN is asserted as ``count((q) != (q)) == 1``: only NaN differs from itself.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO_ROOT

CANARY, STABLE = "c0ffee", "5ab1e0"
LATENCY_BOUNDS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
PROBABILITY_BOUNDS = ("0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1", "+Inf")
MINUTES = 15  # samples per series, one per minute
GRPC_INFER = "grpc:ModelInfer"
VERSIONED_INFER = "/v2/models/{model_name}/versions/{model_version}/infer"


def _query(template: str, metric: str, namespace: str) -> str:
    path = REPO_ROOT / "rollouts" / f"analysistemplate-{template}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    args = {a["name"]: a["value"] for a in doc["spec"]["args"] if "value" in a}
    args |= {"namespace": namespace, "canary-hash": CANARY, "stable-hash": STABLE, "window": "5m"}
    (found,) = [m for m in doc["spec"]["metrics"] if m["name"] == metric]
    query = found["provider"]["prometheus"]["query"]
    return re.sub(r"\{\{\s*args\.([\w-]+)\s*\}\}", lambda m: args[m.group(1)], query).strip()


def _counter(name: str, labels: dict[str, str], per_minute: float) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{body}}}", "values": f"0+{per_minute}x{MINUTES}"}


def _requests(
    ns: str, pod_hash: str, status: str, per_minute: float, route: str = "/invocations"
) -> dict[str, str]:
    labels = {
        "namespace": ns,
        "rollouts_pod_template_hash": pod_hash,
        "route": route,
        "method": "POST",
        "status": status,
    }
    return _counter("model_api_requests_total", labels, per_minute)


def _histogram(
    name: str,
    ns: str,
    pod_hash: str,
    bounds: tuple[str, ...],
    shares: dict[str, float],
    per_minute: float,
    extra: dict[str, str],
) -> list[dict[str, str]]:
    """Cumulative bucket series: ``shares`` maps a bound to the share of observations in it."""
    series, cumulative = [], 0.0
    for bound in bounds:
        cumulative += shares.get(bound, 0.0)
        labels = {"namespace": ns, "rollouts_pod_template_hash": pod_hash, **extra, "le": bound}
        series.append(_counter(f"{name}_bucket", labels, round(per_minute * cumulative, 6)))
    labels = {"namespace": ns, "rollouts_pod_template_hash": pod_hash, **extra}
    series.append(_counter(f"{name}_count", labels, per_minute))
    return series


def _latency(
    ns: str, pod_hash: str, bound: str, route: str = "/invocations"
) -> list[dict[str, str]]:
    extra = {"route": route, "method": "POST", "status": "200"}
    return _histogram(
        "model_api_request_duration_seconds", ns, pod_hash, LATENCY_BOUNDS, {bound: 1.0}, 60, extra
    )


def _predictions(ns: str, pod_hash: str, low: float) -> list[dict[str, str]]:
    """A bimodal model: ``low`` of the rows <= 0.1, the rest in (0.9, 1]."""
    return _histogram(
        "model_api_prediction_probability",
        ns,
        pod_hash,
        PROBABILITY_BOUNDS,
        {"0.1": low, "1": 1 - low},
        100,
        {"model_version": "1"},
    )


def _value(expr: str, value: float) -> dict[str, Any]:
    return {
        "expr": f"round({expr}, 0.0001)",
        "eval_time": f"{MINUTES - 1}m",
        "exp_samples": [{"labels": "{}", "value": value}],
    }


def _empty(expr: str) -> dict[str, Any]:
    return {"expr": expr, "eval_time": f"{MINUTES - 1}m", "exp_samples": []}


def _nan(expr: str) -> dict[str, Any]:
    return {
        "expr": f"count(({expr}) != ({expr}))",
        "eval_time": f"{MINUTES - 1}m",
        "exp_samples": [{"labels": "{}", "value": 1}],
    }


def _case() -> dict[str, Any]:
    series: list[dict[str, str]] = []
    checks: list[dict[str, Any]] = []

    # success-rate
    series += [_requests("good", CANARY, "200", 60), _requests("good", STABLE, "200", 540)]
    checks.append(_value(_query("success-rate", "success-rate", "good"), 1.0))
    series += [_requests("errors", CANARY, "200", 57), _requests("errors", CANARY, "503", 3)]
    # Health probes and /metrics do not count, even when they fail.
    series.append(
        _counter(
            "model_api_requests_total",
            {
                "namespace": "errors",
                "rollouts_pod_template_hash": CANARY,
                "route": "/v2/health/ready",
                "method": "GET",
                "status": "503",
            },
            600,
        )
    )
    checks.append(_value(_query("success-rate", "success-rate", "errors"), 0.95))
    # Every inference route of both transports counts: v2 infer with a version in the path and
    # gRPC ModelInfer fail (3 of 40 each), /invocations does not (0 of 40): 6 / 120.
    series += [
        _requests("transports", CANARY, "200", 40),
        _requests("transports", CANARY, "200", 37, GRPC_INFER),
        _requests("transports", CANARY, "500", 3, GRPC_INFER),
        _requests("transports", CANARY, "200", 37, VERSIONED_INFER),
        _requests("transports", CANARY, "503", 3, VERSIONED_INFER),
    ]
    checks.append(_value(_query("success-rate", "success-rate", "transports"), 0.95))
    series.append(_requests("broken", CANARY, "500", 60))
    checks.append(_value(_query("success-rate", "success-rate", "broken"), 0.0))
    series.append(_requests("nocanary", STABLE, "200", 600))
    checks.append(_empty(_query("success-rate", "success-rate", "nocanary")))
    series.append(_requests("idle", CANARY, "200", 0))
    checks.append(_nan(_query("success-rate", "success-rate", "idle")))

    # latency-p95: all canary requests in (0.25, 0.5], all stable ones in (0.005, 0.01].
    series += _latency("slow", CANARY, "0.5") + _latency("slow", STABLE, "0.01")
    checks.append(_value(_query("latency-p95", "p95-within-slo", "slow"), 0.4875))
    checks.append(_value(_query("latency-p95", "p95-vs-stable", "slow"), 0.4778))
    series += _latency("fast", CANARY, "0.01") + _latency("fast", STABLE, "0.01")
    checks.append(_value(_query("latency-p95", "p95-vs-stable", "fast"), 0.0))
    # Slow gRPC calls on the canary count like slow HTTP requests.
    series += _latency("slowgrpc", CANARY, "0.5", GRPC_INFER) + _latency("slowgrpc", STABLE, "0.01")
    checks.append(_value(_query("latency-p95", "p95-within-slo", "slowgrpc"), 0.4875))
    series += _latency("nostable", CANARY, "0.01")
    checks.append(_empty(_query("latency-p95", "p95-vs-stable", "nostable")))

    # prediction-drift: 30% vs 70% of rows below 0.1 -> KS distance 0.4; same model -> 0.
    series += _predictions("flipped", CANARY, 0.7) + _predictions("flipped", STABLE, 0.3)
    checks.append(_value(_query("prediction-drift", "prediction-drift", "flipped"), 0.4))
    series += _predictions("same", CANARY, 0.3) + _predictions("same", STABLE, 0.3)
    checks.append(_value(_query("prediction-drift", "prediction-drift", "same"), 0.0))
    series += _predictions("quiet", STABLE, 0.3)
    checks.append(_empty(_query("prediction-drift", "prediction-drift", "quiet")))
    series += _histogram(
        "model_api_prediction_probability",
        "stopped",
        CANARY,
        PROBABILITY_BOUNDS,
        {},
        0,
        {"model_version": "1"},
    ) + _predictions("stopped", STABLE, 0.3)
    checks.append(_nan(_query("prediction-drift", "prediction-drift", "stopped")))

    # accuracy: feedback is counted by whichever pod joined it, under the predicting version;
    # the canary (hash c0ffee) serves version 9, the stable version 8.
    series += _serving("worse", "9", "8")
    series += _feedback("worse", "9", STABLE, total=30, correct=20)
    series += _feedback("worse", "9", CANARY, total=30, correct=25)  # 45 / 60 = 0.75
    series += _feedback("worse", "8", STABLE, total=60, correct=57)  # 0.95
    checks.append(_value(_query("accuracy", "accuracy-vs-stable", "worse"), -0.2))
    series += _serving("equal", "9", "8")
    series += _feedback("equal", "9", CANARY, total=60, correct=57)
    series += _feedback("equal", "8", STABLE, total=60, correct=57)
    checks.append(_value(_query("accuracy", "accuracy-vs-stable", "equal"), 0.0))
    # The same version on both sides (a configuration-only change): no difference.
    series += _serving("sameversion", "8", "8")
    series += _feedback("sameversion", "8", STABLE, total=60, correct=50)
    checks.append(_value(_query("accuracy", "accuracy-vs-stable", "sameversion"), 0.0))
    # 10 labels a minute for the canary: 50 in the window, under min-labels -> empty.
    series += _serving("fewlabels", "9", "8")
    series += _feedback("fewlabels", "9", CANARY, total=10, correct=2)
    series += _feedback("fewlabels", "8", STABLE, total=60, correct=57)
    checks.append(_empty(_query("accuracy", "accuracy-vs-stable", "fewlabels")))
    # No labels at all (counters that never moved, or no series): empty, never NaN or 0.
    series += _serving("nolabels", "9", "8")
    series += _feedback("nolabels", "9", CANARY, total=0, correct=0)
    checks.append(_empty(_query("accuracy", "accuracy-vs-stable", "nolabels")))

    return {"interval": "1m", "input_series": series, "promql_expr_test": checks}


def _serving(ns: str, canary_version: str, stable_version: str) -> list[dict[str, str]]:
    """``model_api_model_info`` of one canary and one stable pod."""
    return [
        {
            "series": f'model_api_model_info{{namespace="{ns}",rollouts_pod_template_hash='
            f'"{pod_hash}",name="model-api",version="{version}",alias="",run_id="r"}}',
            "values": f"1x{MINUTES}",
        }
        for pod_hash, version in ((CANARY, canary_version), (STABLE, stable_version))
    ]


def _feedback(
    ns: str, version: str, pod_hash: str, *, total: float, correct: float
) -> list[dict[str, str]]:
    """Labels of ``version``'s predictions joined by a pod of ``pod_hash``, per minute."""
    labels = {"namespace": ns, "rollouts_pod_template_hash": pod_hash, "model_version": version}
    return [
        _counter("model_api_feedback_total", labels, total),
        _counter("model_api_feedback_correct_total", labels, correct),
    ]


def test_queries_compute_what_the_thresholds_assume(promtool: str, tmp_path: Path) -> None:
    (tmp_path / "none.yaml").write_text("groups: []\n")
    tests = {"rule_files": ["none.yaml"], "evaluation_interval": "1m", "tests": [_case()]}
    (tmp_path / "queries_test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "queries_test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
