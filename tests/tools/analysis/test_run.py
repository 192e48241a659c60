"""Scheduling, counters and phase assessment of a run (reference note §3), on a fake clock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.support.clock import FakeClock
from tools.analysis.phases import Phase
from tools.analysis.run import (
    AnalysisRun,
    Measurement,
    MetricResult,
    assess_metric,
    limit_violation,
)
from tools.analysis.template import Metric

S = Phase.SUCCESSFUL
F = Phase.FAILED
I = Phase.INCONCLUSIVE  # noqa: E741
E = Phase.ERROR


def metric(name: str = "m", **fields: Any) -> Metric:
    return Metric(name=name, provider={}, **fields)


class Script:
    """Measurement phases to hand out per metric, in order; records when each was taken."""

    def __init__(self, clock: FakeClock, phases: dict[str, Iterable[Phase]], duration: float = 0.5):
        self.clock = clock
        self.phases = {name: iter(p) for name, p in phases.items()}
        self.duration = duration
        self.taken: list[tuple[str, float]] = []
        self.start = clock.now()

    def __call__(self, m: Metric) -> Measurement:
        started = self.clock.now()
        self.taken.append((m.name, (started - self.start).total_seconds()))
        phase = next(self.phases[m.name])
        self.clock.advance(self.duration)
        return Measurement(phase, started, self.clock.now(), value="[1]")


def execute(
    clock: FakeClock, metrics: list[Metric], phases: dict[str, Iterable[Phase]], **kw: Any
) -> tuple[Any, Script]:
    script = Script(clock, phases)
    result = AnalysisRun(metrics, script, clock=clock, **kw).execute()
    return result, script


def test_single_measurement_without_count_or_interval(clock: FakeClock) -> None:
    run, script = execute(clock, [metric()], {"m": [S]})
    assert run.phase is S
    assert len(script.taken) == 1


def test_count_and_interval_schedule(clock: FakeClock) -> None:
    run, script = execute(
        clock, [metric(count=3, interval=timedelta(seconds=60))], {"m": [S, S, S]}
    )
    assert run.phase is S
    # each next measurement 60 s after the previous one *finished* (0.5 s each)
    assert [t for _, t in script.taken] == [0.0, 60.5, 121.0]
    r = run.metrics[0]
    assert (r.count, r.successful, r.failed, r.inconclusive, r.error) == (3, 3, 0, 0, 0)


def test_initial_delay(clock: FakeClock) -> None:
    _, script = execute(clock, [metric(initial_delay=timedelta(seconds=30))], {"m": [S]})
    assert script.taken == [("m", 30.0)]


def test_failure_limit_default_zero_fails_on_first_failure(clock: FakeClock) -> None:
    run, script = execute(
        clock, [metric(count=5, interval=timedelta(seconds=1))], {"m": [S, F, S, S, S]}
    )
    assert run.phase is F
    assert len(script.taken) == 2
    assert run.message == 'Metric "m" assessed Failed due to failed (1) > failureLimit (0)'


def test_failure_limit_tolerates_that_many(clock: FakeClock) -> None:
    m = metric(count=5, interval=timedelta(seconds=1), failure_limit=1)
    run, script = execute(clock, [m], {"m": [F, S, F, S, S]})
    assert run.phase is F
    assert len(script.taken) == 3
    run, _ = execute(FakeClock(), [m], {"m": [F, S, S, S, S]})
    assert run.phase is S


def test_count_equal_to_failure_limit_can_never_fail(clock: FakeClock) -> None:
    m = metric(count=3, interval=timedelta(seconds=1), failure_limit=3)
    run, _ = execute(clock, [m], {"m": [F, F, F]})
    assert run.phase is S
    assert run.metrics[0].failed == 3


def test_inconclusive_limit(clock: FakeClock) -> None:
    m = metric(count=3, interval=timedelta(seconds=1), inconclusive_limit=1)
    run, _ = execute(clock, [m], {"m": [I, S, I]})
    assert run.phase is I
    assert "inconclusive (2) > inconclusiveLimit (1)" in run.message
    run, _ = execute(FakeClock(), [m], {"m": [I, S, S]})
    assert run.phase is S


def test_errors_do_not_count_and_retry_after_ten_seconds(clock: FakeClock) -> None:
    m = metric(count=2, interval=timedelta(seconds=60))
    run, script = execute(clock, [m], {"m": [E, E, S, S]})
    assert run.phase is S
    times = [t for _, t in script.taken]
    assert times == [0.0, 10.5, 21.0, 81.5]  # 10 s after an Error, the interval otherwise
    r = run.metrics[0]
    assert (r.count, r.error, r.successful, r.consecutive_error) == (2, 2, 2, 0)


def test_error_retry_interval_is_overridable(clock: FakeClock) -> None:
    run, script = execute(
        clock, [metric()], {"m": [E, S]}, error_retry_interval=timedelta(seconds=1)
    )
    assert [t for _, t in script.taken] == [0.0, 1.5]
    assert run.phase is S


def test_consecutive_error_limit_default_four(clock: FakeClock) -> None:
    run, script = execute(clock, [metric()], {"m": [E] * 5})
    assert run.phase is E
    assert len(script.taken) == 5  # the 5th Error in a row ends it
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in run.message
    assert run.metrics[0].consecutive_error == 5


def test_consecutive_error_limit_zero_and_reset(clock: FakeClock) -> None:
    run, script = execute(clock, [metric(consecutive_error_limit=0)], {"m": [E]})
    assert run.phase is E and len(script.taken) == 1
    m = metric(count=3, interval=timedelta(seconds=1), consecutive_error_limit=1)
    run, _ = execute(FakeClock(), [m], {"m": [E, S, E, S, E, S]})
    assert run.phase is S  # every success resets the streak


def test_error_message_is_carried_into_the_run_message(clock: FakeClock) -> None:
    def failing(m: Metric) -> Measurement:
        now = clock.now()
        clock.advance(0.1)
        return Measurement(E, now, clock.now(), message="connection refused")

    run = AnalysisRun([metric(consecutive_error_limit=0)], failing, clock=clock).execute()
    assert run.message.endswith(': "Error Message: connection refused"')


def test_consecutive_success_limit(clock: FakeClock) -> None:
    m = metric(count=5, interval=timedelta(seconds=1), consecutive_success_limit=2, failure_limit=3)
    run, script = execute(clock, [m], {"m": [S, F, S, S]})
    assert run.phase is S
    assert len(script.taken) == 4
    # count reached without the streak, both limits applicable -> Inconclusive
    run, _ = execute(FakeClock(), [m], {"m": [S, F, S, F, S]})
    assert run.phase is I
    # failureLimit -1: only the success streak can pass; count reached -> Failed
    m2 = replace(m, failure_limit=-1)
    run, _ = execute(FakeClock(), [m2], {"m": [S, F, S, F, S]})
    assert run.phase is F


def test_terminating_run_stops_other_metrics(clock: FakeClock) -> None:
    fast = metric("fast", count=3, interval=timedelta(seconds=1))
    slow = metric("slow", count=3, interval=timedelta(seconds=100))
    run, script = execute(clock, [fast, slow], {"fast": [S, F], "slow": [S, S, S]})
    assert run.phase is F
    assert [name for name, _ in script.taken].count("slow") == 1
    assert {r.name: r.phase for r in run.metrics} == {"fast": F, "slow": S}


def test_run_phase_is_the_worst(clock: FakeClock) -> None:
    a = metric("a", consecutive_error_limit=0)
    b = metric("b")
    run, _ = execute(clock, [a, b], {"a": [E], "b": [F]})
    assert run.phase is F  # Failed is worse than Error
    run, _ = execute(FakeClock(), [metric("a"), metric("b")], {"a": [I], "b": [S]})
    assert run.phase is I


def test_dry_run_metrics_never_decide(clock: FakeClock) -> None:
    dry = replace(metric("dry"), dry_run=True)
    run, _ = execute(clock, [dry, metric("real")], {"dry": [F], "real": [S]})
    assert run.phase is S
    assert {r.name: r.phase for r in run.metrics} == {"dry": F, "real": S}
    run, _ = execute(FakeClock(), [dry], {"dry": [F]})
    assert run.phase is S  # only dry-run metrics: Successful


def test_dry_run_failure_does_not_terminate_others(clock: FakeClock) -> None:
    dry = replace(metric("dry"), dry_run=True)
    real = metric("real", count=2, interval=timedelta(seconds=5))
    _, script = execute(clock, [dry, real], {"dry": [F], "real": [S, S]})
    assert [n for n, _ in script.taken].count("real") == 2


def test_indefinite_metric_ends_successful_when_terminated(clock: FakeClock) -> None:
    m = metric(interval=timedelta(seconds=10))
    run, script = execute(clock, [m], {"m": [S] * 100}, max_duration=timedelta(seconds=35))
    assert run.phase is S
    assert len(script.taken) == 4  # at 0, 10.5, 21, 31.5
    assert clock.now() - run.started_at <= timedelta(seconds=36)


def test_terminated_before_any_measurement_is_successful(clock: FakeClock) -> None:
    m = metric(initial_delay=timedelta(seconds=100))
    run, script = execute(clock, [m], {"m": [F]}, max_duration=timedelta(seconds=10))
    assert run.phase is S
    assert script.taken == []


def test_assess_metric_pending_and_running() -> None:
    m = metric(count=2, interval=timedelta(seconds=1))
    result = MetricResult(m)
    assert assess_metric(m, result, terminating=False) is Phase.PENDING
    assert assess_metric(m, result, terminating=True) is S


@pytest.mark.parametrize(
    ("failed", "inconclusive", "errors", "expected"),
    [
        (2, 2, 5, E),  # later checks override earlier ones
        (2, 2, 0, I),
        (2, 0, 0, F),
        (1, 0, 0, None),
    ],
)
def test_limit_violation_order(
    failed: int, inconclusive: int, errors: int, expected: Phase | None
) -> None:
    m = metric(failure_limit=1, inconclusive_limit=1)
    result = MetricResult(m, failed=failed, inconclusive=inconclusive, consecutive_error=errors)
    assert limit_violation(m, result)[0] is expected
