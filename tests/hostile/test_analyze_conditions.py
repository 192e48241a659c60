"""Hostile analysis conditions end in a measurement Error (or the right phase) within seconds.

Each case runs in a child process under an address-space and CPU cap and a wall-clock timeout
(tests/support/bounded.py): before issue #15, the first one never returned and the memory
cases ended in a MemoryError traceback. Each names the expr-lang / Go rule Argo applies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.bounded import GITOPS, run_bounded
from tools.rehearsal.prometheus import PrometheusServer

CHILD = """
import json, sys
from tools.analysis.conditions import evaluate_result
outcome = evaluate_result(json.loads(sys.argv[1]), sys.argv[2], None)
print(json.dumps({"phase": outcome.phase.value, "message": outcome.message}))
"""


def evaluate(
    condition: str, result: tuple[float, ...] = (1.0,), *, memory_mib: int = 512
) -> dict[str, str]:
    """Evaluate ``successCondition: condition`` against ``result`` in a bounded child."""
    done = run_bounded(
        [sys.executable, "-c", CHILD, json.dumps(list(result)), condition],
        timeout=60,
        memory_mib=memory_mib,
    )
    assert not done.timed_out and done.returncode == 0, str(done)
    assert "Traceback" not in done.stderr, done.stderr
    outcome: dict[str, str] = json.loads(done.stdout)
    return outcome


def test_exponential_backtracking_pattern_matches_in_linear_time() -> None:
    # Go's regexp is RE2 (vm/vm.go OpMatches -> regexp.MatchString): no backtracking, so the
    # classic ReDoS pattern is a plain "false" however long the subject is.
    subject = "a" * 50_000 + "!"
    outcome = evaluate(f'"{subject}" matches "^(a+)+$"')
    assert outcome == {"phase": "Failed", "message": ""}


def test_lookbehind_is_an_error_as_in_go() -> None:
    # regexp/syntax parsePerlFlags: `(?<` starts a named group, so `(?<=a)b` is rejected.
    outcome = evaluate('"ab" matches "(?<=a)b"')
    assert outcome["phase"] == "Error"
    assert "error parsing regexp: invalid named capture: `(?<=a)b`" in outcome["message"]


def test_backreference_is_an_error_as_in_go() -> None:
    # regexp/syntax parseEscape: a single non-zero digit is a backreference, not supported.
    outcome = evaluate('"aa" matches "(a)\\\\1"')
    assert outcome["phase"] == "Error"
    assert "error parsing regexp: invalid escape sequence: `\\1`" in outcome["message"]


@pytest.mark.parametrize("condition", ["len(0..1000000000) > 0", "len(0..10000000) > 0"])
def test_huge_range_exceeds_the_memory_budget(condition: str) -> None:
    # conf.DefaultMemoryBudget (1e6) and vm.memGrow, charged by OpRange before it allocates:
    # an Error, not a MemoryError, under a 512 MiB cap.
    outcome = evaluate(condition)
    assert outcome["phase"] == "Error"
    assert outcome["message"].endswith(": memory budget exceeded (at position 5)")


def test_int64_addition_wraps_around_like_go() -> None:
    # Go int arithmetic (runtime.Add on int) wraps: MaxInt64 + 1 == MinInt64.
    assert evaluate("9223372036854775807 + 1 == -9223372036854775807 - 1")["phase"] == "Successful"
    assert evaluate("len(result) + 9223372036854775807 < 0")["phase"] == "Successful"


def test_long_predicate_over_a_large_range_stops_with_an_error() -> None:
    # Within expr's limits (range under the memory budget, fewer than 10,000 nodes) but about
    # twenty million evaluations: our step limit ends it (evaluator.STEP_LIMIT).
    predicate = " && ".join(["# >= 0"] * 20)
    outcome = evaluate(f"all(0..999990, {predicate})")
    assert outcome["phase"] == "Error"
    assert "evaluation step limit exceeded" in outcome["message"]


def test_expression_over_the_node_limit_is_a_compile_error() -> None:
    # conf.DefaultMaxNodes (1e4), parser.checkNodeLimit.
    outcome = evaluate("1" + " + 1" * 20_000 + " > 0")
    assert outcome["phase"] == "Error"
    assert "expression exceeds maximum allowed nodes" in outcome["message"]


DRY_RUN_CHILD = """
import sys
from pathlib import Path
from tools.analysis.template import Template, resolve_metrics
metric = {"provider": {"prometheus": {"address": "http://p:9090", "query": "q"}}}
spec = {
    "metrics": [{**metric, "name": "a" * 40}, {**metric, "name": "ab"}],
    "dryRun": [{"metricName": "^(a+)+b$"}],
}
template = Template(kind="AnalysisTemplate", name="t", path=Path("t.yaml"), spec=spec)
print([m.dry_run for m in resolve_metrics(template, {})])
"""


def test_dry_run_metric_name_regex_is_matched_in_linear_time() -> None:
    # utils/analysis/helpers.go GetDryRunMetrics: regexp.MatchString, i.e. RE2.
    done = run_bounded([sys.executable, "-c", DRY_RUN_CHILD], timeout=60, memory_mib=512)
    assert not done.timed_out and done.returncode == 0, str(done)
    assert done.stdout.strip() == "[False, True]"


@pytest.mark.integration
def test_gitops_analyze_reports_the_backtracking_pattern_as_failed(tmp_path: Path) -> None:
    """The whole command, against a real Prometheus, in a bounded child."""
    template = tmp_path / "template.yaml"
    condition = f'result[0] > 0 && "{"a" * 10_000}!" matches "^(a+)+$"'
    template.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AnalysisTemplate",
                "metadata": {"name": "t"},
                "spec": {
                    "metrics": [
                        {
                            "name": "m",
                            "successCondition": condition,
                            "provider": {
                                "prometheus": {
                                    "address": "http://in-cluster.invalid:9090",
                                    "query": "vector(1)",
                                }
                            },
                        }
                    ]
                },
            }
        )
    )
    with PrometheusServer() as prometheus:
        done = run_bounded(
            [
                *GITOPS,
                "analyze",
                str(template),
                "--prometheus",
                prometheus.url,
                "--once",
                "--output",
                "json",
            ],
            timeout=60,
            memory_mib=1024,
        )
    assert not done.timed_out, str(done)
    assert done.returncode == 1, str(done)  # Failed
    report = json.loads(done.stdout)
    assert report["metrics"][0]["measurements"][0]["phase"] == "Failed"
