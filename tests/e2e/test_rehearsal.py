"""The canary rehearsal scenarios: a real Prometheus, real APIs, the repository's templates.

Each scenario starts its own canary next to the shared stable API, sends 90/10 load, and runs
success-rate, latency-p95 and prediction-drift merged into one AnalysisRun (as the Rollout's
analysis step does) with an 8s window and 3 x 4s measurements; the accuracy scenarios run the
accuracy template on delayed ground-truth feedback, input-drift also waits for its alert.
"""

from __future__ import annotations

import pytest

from tools.analysis.phases import Phase
from tools.rehearsal.scenarios import SCENARIOS, Rehearsal, ScenarioResult

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LATENCY_METRICS = ("p95-within-slo", "p95-vs-stable")


def phases(result: ScenarioResult) -> dict[str, Phase]:
    return {m.name: m.phase for m in result.run.metrics}


def measured(result: ScenarioResult, name: str) -> list[Phase]:
    (metric,) = [m for m in result.run.metrics if m.name == name]
    return [m.phase for m in metric.measurements]


def test_good_canary_is_promoted(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["good"])
    assert result.run.phase is Phase.SUCCESSFUL, result.run.message
    assert result.decision == "promote"
    assert set(phases(result).values()) == {Phase.SUCCESSFUL}
    assert all(len(m.measurements) == 3 for m in result.run.metrics)
    assert result.load.sent["canary"] > 0
    assert result.load.statuses[("canary", 500)] == 0


def test_canary_with_five_percent_errors_is_aborted_within_two_intervals(
    rehearsal: Rehearsal,
) -> None:
    result = rehearsal.run(SCENARIOS["errors"])
    assert result.run.phase is Phase.FAILED
    assert result.decision == "abort"
    assert phases(result)["success-rate"] is Phase.FAILED
    # failureLimit 1: the second Failed measurement (one interval after the first) decides.
    assert measured(result, "success-rate") == [Phase.FAILED, Phase.FAILED]
    assert result.load.statuses[("canary", 500)] > 0
    assert result.load.statuses[("stable", 500)] == 0


def test_slow_canary_fails_the_latency_template(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["latency"])
    assert result.run.phase is Phase.FAILED
    assert result.decision == "abort"
    latency = [phases(result)[name] for name in LATENCY_METRICS]
    assert Phase.FAILED in latency
    assert phases(result)["success-rate"] is Phase.SUCCESSFUL


def test_drifted_model_fails_prediction_drift_while_the_rest_stays_green(
    rehearsal: Rehearsal,
) -> None:
    result = rehearsal.run(SCENARIOS["drift"])
    assert result.run.phase is Phase.FAILED
    assert result.decision == "abort"
    got = phases(result)
    assert got["prediction-drift"] is Phase.FAILED
    assert got["success-rate"] is Phase.SUCCESSFUL
    for name in LATENCY_METRICS:
        assert got[name] is Phase.SUCCESSFUL
        assert Phase.FAILED not in measured(result, name)


def test_no_traffic_is_never_successful(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["no-traffic"])
    assert result.load.sent["canary"] == 0
    assert result.run.phase in (Phase.FAILED, Phase.INCONCLUSIVE)
    assert result.decision != "promote"
    # A metric still running when the run terminates is assessed Successful by Argo, so the
    # guarantee is about measurements: without traffic no measurement passes.
    for name in phases(result):
        assert Phase.SUCCESSFUL not in measured(result, name), name


def test_prometheus_killed_mid_run_ends_in_error(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["prometheus-down"])
    assert result.run.phase is Phase.ERROR
    assert result.decision == "abort"
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in result.run.message
    errored = [m for m in result.run.metrics if m.phase is Phase.ERROR]
    assert errored
    for metric in errored:
        # measured fine before the kill, then only Errors: never a silent pass
        assert metric.measurements[0].phase is Phase.SUCCESSFUL
        assert {m.phase for m in metric.measurements[1:]} == {Phase.ERROR}
        assert metric.consecutive_error == 5


def test_accuracy_promotes_the_good_canary_on_live_ground_truth(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["accuracy-good"])
    assert result.run.phase is Phase.SUCCESSFUL, result.run.message
    assert result.decision == "promote"
    assert set(measured(result, "accuracy-vs-stable")) == {Phase.SUCCESSFUL}
    # The labels were posted to the stable (any replica joins) and accepted.
    assert result.load.feedback[202] > 0 and set(result.load.feedback) == {202}


def test_accuracy_aborts_a_canary_trained_on_partly_flipped_labels(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["accuracy-worse"])
    assert result.run.phase is Phase.FAILED
    assert result.decision == "abort"
    (metric,) = result.run.metrics
    assert metric.name == "accuracy-vs-stable"
    failed = [m for m in metric.measurements if m.phase is Phase.FAILED]
    assert len(failed) == 2  # failureLimit 1: the second failure decides
    assert result.load.statuses[("canary", 200)] > 0
    assert set(result.load.feedback) == {202}


def test_input_drift_fires_the_alert_without_blaming_the_canary(rehearsal: Rehearsal) -> None:
    result = rehearsal.run(SCENARIOS["input-drift"])
    assert result.alert_fired is True, result.notes
    assert result.run.phase is Phase.SUCCESSFUL, result.run.message
    assert result.decision == "promote"
    assert result.as_expected
