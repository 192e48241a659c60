"""Text/JSON rendering details and threshold extraction for the charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tools.analysis.phases import Phase
from tools.analysis.report import render_text, thresholds, to_json
from tools.analysis.run import Measurement, MetricResult, RunResult
from tools.analysis.template import Metric


def test_thresholds_come_from_comparisons_with_the_result() -> None:
    assert thresholds("len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.99") == [0.99]
    assert thresholds("0.2 < result[0] || result[0] > 0.5") == [0.2, 0.5]
    assert thresholds("all(result, # < 0.1)") == [0.1]
    assert thresholds(None) == []
    assert thresholds("this is not (valid") == []


def test_retention_limits_json_measurements_but_not_text() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    metric = Metric(name="m", provider={}, retention=2)
    result = MetricResult(metric, phase=Phase.SUCCESSFUL)
    for i in range(3):
        at = start + timedelta(seconds=i)
        result.record(Measurement(Phase.SUCCESSFUL, at, at, value=f"[{i}]"))
    run = RunResult(Phase.SUCCESSFUL, "", [result], start, start)
    kept = to_json(run)["metrics"][0]["measurements"]
    assert [m["value"] for m in kept] == ["[1]", "[2]"]
    assert to_json(run)["metrics"][0]["successful"] == 3
    assert render_text(run).count("Successful   value=") == 3
