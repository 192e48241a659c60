"""``gitops analyze`` end to end against a real Prometheus (constant PromQL for each shape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tools.cli import main
from tools.rehearsal.prometheus import PrometheusServer, free_port

pytestmark = pytest.mark.integration


def write_template(tmp_path: Path, *metrics: dict[str, Any], args: list[Any] | None = None) -> str:
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "t"},
        "spec": {"args": args or [], "metrics": list(metrics)},
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def metric(
    query: str, success: str | None = None, failure: str | None = None, **fields: Any
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": fields.pop("name", "m"),
        # The in-cluster address; --prometheus must replace it.
        "provider": {"prometheus": {"address": "http://in-cluster.invalid:9090", "query": query}},
        **fields,
    }
    if success:
        m["successCondition"] = success
    if failure:
        m["failureCondition"] = failure
    return m


def analyze(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["analyze", *argv, "--output", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


@pytest.mark.parametrize(
    ("query", "success", "failure", "code", "phase", "value"),
    [
        ("vector(0.99)", "result[0] >= 0.95", None, 0, "Successful", "[0.99]"),
        ("vector(0.5)", "result[0] >= 0.95", None, 1, "Failed", "[0.5]"),
        ("vector(0.5)", "result[0] >= 0.95", "result[0] < 0.1", 3, "Inconclusive", "[0.5]"),
        ("scalar(vector(10))", "result == 10", None, 0, "Successful", "10"),
        ("vector(NaN)", "result[0] >= 0.95", "result[0] < 0.95", 3, "Inconclusive", "[NaN]"),
        ("vector(+Inf)", "result[0] >= 0.95", None, 0, "Successful", "[+Inf]"),
        ("vector(1) > 2", "len(result) == 0 || result[0] >= 0.95", None, 0, "Successful", "[]"),
        (
            "vector(1)[3s:1s]",
            "len(result) >= 3 && all(result, # == 1)",
            None,
            0,
            "Successful",
            None,
        ),
    ],
)
def test_result_shapes_and_exit_codes(
    prometheus: PrometheusServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    query: str,
    success: str | None,
    failure: str | None,
    code: int,
    phase: str,
    value: str | None,
) -> None:
    template = write_template(tmp_path, metric(query, success, failure))
    exit_code, report, _ = analyze(capsys, template, "--prometheus", prometheus.url, "--once")
    assert exit_code == code
    assert report["phase"] == phase
    (measurement,) = report["metrics"][0]["measurements"]
    assert measurement["phase"] == phase
    if value is not None:
        assert measurement["value"] == value
    else:
        assert measurement["value"].startswith("[1,1,1")


@pytest.mark.parametrize(
    ("query", "success", "needle"),
    [
        ("vector(1) > 2", "result[0] >= 0.95", "no data returned from the metric provider"),
        ("scalar(vector(1))", "result[0] >= 0.95", "type float64[int] is undefined"),
        ("vector(1)", "result >= 0.95", "mismatched types []float64 and float64"),
        ('"text"', "true", 'unexpected value type "string"'),
        ("sum(", "true", "bad_data"),
    ],
)
def test_measurement_errors(
    prometheus: PrometheusServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    query: str,
    success: str,
    needle: str,
) -> None:
    template = write_template(tmp_path, metric(query, success))
    code, report, _ = analyze(capsys, template, "--prometheus", prometheus.url, "--once")
    assert code == 2
    assert report["phase"] == "Error"
    assert needle in report["metrics"][0]["measurements"][0]["message"]


def test_json_shape(
    prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path, metric("vector(0.99)", "result[0] > 0.9"))
    _, report, _ = analyze(capsys, template, "--prometheus", prometheus.url, "--once")
    assert set(report) == {"phase", "message", "metrics"}
    (m,) = report["metrics"]
    counters = {"successful", "failed", "inconclusive", "error", "consecutiveError"}
    assert set(m) == {"name", "phase", "measurements", *counters}
    assert set(m["measurements"][0]) == {"phase", "value", "message", "startedAt", "finishedAt"}
    assert m["measurements"][0]["startedAt"].endswith("Z")


def test_count_interval_override_and_args(
    prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(
        tmp_path,
        metric("vector({{ args.v }})", "result[0] >= {{args.min}}", count=5, interval="1m"),
        args=[{"name": "v"}, {"name": "min", "value": "0.95"}],
    )
    code, report, _ = analyze(
        capsys, template, "--prometheus", prometheus.url, "--arg", "v=0.97",
        "--count", "2", "--interval", "1s",
    )  # fmt: skip
    assert code == 0
    m = report["metrics"][0]
    assert (m["successful"], len(m["measurements"])) == (2, 2)
    code, report, _ = analyze(
        capsys,
        template,
        "--prometheus",
        prometheus.url,
        "--arg",
        "v=0.97",
        "--arg",
        "min=0.98",
        "--once",
    )
    assert code == 1


def test_prometheus_down_ends_in_error_after_the_consecutive_error_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(
        tmp_path, metric("vector(1)", "result[0] > 0", consecutiveErrorLimit=2)
    )
    dead = f"http://127.0.0.1:{free_port()}"
    code, report, _ = analyze(
        capsys, template, "--prometheus", dead, "--error-retry-interval", "50ms"
    )
    assert code == 2
    assert report["phase"] == "Error"
    m = report["metrics"][0]
    assert (m["error"], m["consecutiveError"], m["successful"]) == (3, 3, 0)
    assert "consecutiveErrors (3) > consecutiveErrorLimit (2)" in report["message"]
    assert all(x["phase"] == "Error" and x["value"] == "" for x in m["measurements"])


def test_range_query(
    prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = metric("vector(2)", "len(result) >= 3 && all(result, # == 2)")
    m["provider"]["prometheus"]["rangeQuery"] = {
        "start": 'now() - duration("5s")', "end": "now()", "step": "1s"
    }  # fmt: skip
    template = write_template(tmp_path, m)
    code, report, _ = analyze(capsys, template, "--prometheus", prometheus.url, "--once")
    assert code == 0, report
    assert report["metrics"][0]["measurements"][0]["value"].startswith("[2,2,2")


def test_spec_errors_end_the_run_before_measuring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path, metric("vector(1)", "true"), args=[{"name": "namespace"}])
    code, report, _ = analyze(capsys, template, "--prometheus", "http://127.0.0.1:1")
    assert code == 2
    assert report == {
        "phase": "Error",
        "message": 'Unable to resolve metric arguments: argument "namespace" was not supplied',
        "metrics": [],
    }
    template = write_template(tmp_path, metric("vector(1)", "true", count=3))
    code, report, _ = analyze(capsys, template)
    assert code == 2
    assert "interval must be specified when count > 1" in report["message"]


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "no-such-template"]) == 2
    assert "no AnalysisTemplate named 'no-such-template'" in capsys.readouterr().err
    template = write_template(tmp_path, metric("vector(1)", "true"))
    assert main(["analyze", template, "--arg", "novalue"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert main(["analyze", template, "--interval", "soon"]) == 2
    assert main(["analyze", template, "--metric", "other"]) == 2
    assert "has no metric 'other'" in capsys.readouterr().err
    assert main(["analyze", template, "--report", str(tmp_path / "r.txt")]) == 2


def test_reports(
    prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(
        tmp_path,
        metric("vector(0.99)", "result[0] >= 0.95", name="ok"),
        metric("vector(1) > 2", "result[0] >= 0.95", name="empty"),
    )
    html = tmp_path / "out" / "report.html"
    png = tmp_path / "report.png"
    code = main(
        ["analyze", template, "--prometheus", prometheus.url, "--once", "--report", str(html)]
    )
    out = capsys.readouterr().out
    assert code == 2  # the unguarded empty metric is an Error
    assert "metric ok: Successful" in out and "metric empty: Error" in out
    text = html.read_text()
    assert "data:image/png;base64," in text and "no data returned" in text
    assert (
        main(["analyze", template, "--prometheus", prometheus.url, "--once", "--report", str(png)])
        == 2
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_repository_template_by_name_never_passes_without_data(
    prometheus: PrometheusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    for name in ("success-rate", "latency-p95", "prediction-drift"):
        code, report, _ = analyze(
            capsys, name, "--prometheus", prometheus.url, "--once",
            "--arg", "namespace=nowhere", "--arg", "canary-hash=c", "--arg", "stable-hash=s",
        )  # fmt: skip
        assert code == 3, (name, report)
        assert all(m["phase"] == "Inconclusive" for m in report["metrics"])


def test_text_output_and_progress(
    prometheus: PrometheusServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = write_template(tmp_path, metric("vector(0.5)", "result[0] >= 0.95", name="rate"))
    code = main(["analyze", template, "--prometheus", prometheus.url, "--once"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "metric rate: Failed" in out
    assert out.rstrip().endswith(
        'run: Failed - Metric "rate" assessed Failed due to failed (1) > failureLimit (0)'
    )
    assert "rate: Failed [0.5]" in err
