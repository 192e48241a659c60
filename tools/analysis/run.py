"""An AnalysisRun on one machine: measurement scheduling and phase assessment as Argo does it.

Scheduling follows the controller's ``generateMetricTasks``: a metric's first measurement is
due at ``startedAt + initialDelay``; the next one ``interval`` after the previous measurement
finished (10 s after an Error, whatever the interval) until the effective count of non-Error
measurements is reached. Assessment follows ``assessMetricStatus`` / ``assessRunStatus``
(reference note §3). Time comes from an injectable :class:`Clock`, so tests run instantly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tools.analysis.conditions import evaluate_result
from tools.analysis.phases import Phase, is_worse
from tools.analysis.prometheus import PrometheusProvider, PrometheusQuery, ProviderError
from tools.analysis.template import Metric

DEFAULT_ERROR_RETRY_INTERVAL = timedelta(seconds=10)


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Measurement:
    phase: Phase
    started_at: datetime
    finished_at: datetime
    value: str = ""  # Argo's string form: `[0.99]`, `NaN`, `[]`, `10`
    message: str = ""
    result: float | list[float] | None = None  # the parsed result, for charts
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class MetricResult:
    metric: Metric
    phase: Phase = Phase.PENDING
    message: str = ""
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    measurements: list[Measurement] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.metric.name

    def record(self, measurement: Measurement) -> None:
        """Update the counters exactly as ``runMeasurements`` does."""
        self.measurements.append(measurement)
        if measurement.phase is Phase.ERROR:
            self.error += 1
            self.consecutive_error += 1
            self.consecutive_success = 0
            self.message = measurement.message
            return
        self.count += 1
        self.consecutive_error = 0
        if measurement.phase is Phase.SUCCESSFUL:
            self.successful += 1
            self.consecutive_success += 1
        else:
            self.consecutive_success = 0
            if measurement.phase is Phase.FAILED:
                self.failed += 1
            else:
                self.inconclusive += 1


@dataclass
class RunResult:
    phase: Phase
    message: str
    metrics: list[MetricResult]
    started_at: datetime
    finished_at: datetime


Measure = Callable[[Metric], Measurement]


def limit_violation(metric: Metric, result: MetricResult) -> tuple[Phase | None, str]:
    """``assessMetricFailureInconclusiveOrError``: later checks override earlier ones."""
    phase: Phase | None = None
    message = ""
    if metric.failure_limit >= 0 and result.failed > metric.failure_limit:
        phase = Phase.FAILED
        message = f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
    if result.inconclusive > metric.inconclusive_limit:
        phase = Phase.INCONCLUSIVE
        message = (
            f"inconclusive ({result.inconclusive}) > "
            f"inconclusiveLimit ({metric.inconclusive_limit})"
        )
    if result.consecutive_error > metric.consecutive_error_limit:
        phase = Phase.ERROR
        message = (
            f"consecutiveErrors ({result.consecutive_error}) > "
            f"consecutiveErrorLimit ({metric.consecutive_error_limit})"
        )
    return phase, message


def assess_metric(metric: Metric, result: MetricResult, terminating: bool) -> Phase:
    """``assessMetricStatus``."""
    if result.phase.completed:
        return result.phase
    if not result.measurements:
        return Phase.SUCCESSFUL if terminating else Phase.PENDING
    violated, _ = limit_violation(metric, result)
    if violated is not None:
        return violated
    success_limit = metric.consecutive_success_limit
    if success_limit > 0 and result.consecutive_success >= success_limit:
        return Phase.SUCCESSFUL
    effective = metric.effective_count
    if effective is not None and result.count >= effective:
        failure_applicable = metric.failure_limit >= 0
        success_applicable = success_limit > 0
        if failure_applicable and success_applicable:
            return Phase.INCONCLUSIVE
        if success_applicable:
            return Phase.FAILED
        return Phase.SUCCESSFUL
    return Phase.SUCCESSFUL if terminating else Phase.RUNNING


def is_terminating(results: Sequence[MetricResult], terminate: bool = False) -> bool:
    """``IsTerminating``: the run was told to stop, or a non-dry-run metric went bad."""
    if terminate:
        return True
    bad = (Phase.FAILED, Phase.ERROR, Phase.INCONCLUSIVE)
    return any(r.phase in bad and not r.metric.dry_run for r in results)


def assess_run(results: Sequence[MetricResult], terminating: bool) -> tuple[Phase, str]:
    """``assessRunStatus``: update metric phases; the run is the worst non-dry-run phase."""
    everything_completed = True
    worst: Phase | None = None
    worst_message = ""
    for result in results:
        result.phase = assess_metric(result.metric, result, terminating)
        if not result.phase.completed:
            everything_completed = False
            continue
        if result.metric.dry_run:
            continue
        if worst is None or is_worse(worst, result.phase):
            worst = result.phase
            _, reason = limit_violation(result.metric, result)
            worst_message = ""
            if reason:
                worst_message = f'Metric "{result.name}" assessed {result.phase} due to {reason}'
                if result.message:
                    worst_message += f': "Error Message: {result.message}"'
    if not everything_completed:
        return Phase.RUNNING, ""
    if worst is None:
        return Phase.SUCCESSFUL, ""  # only dry-run metrics
    return worst, worst_message


@dataclass
class AnalysisRun:
    """Runs metrics until the run completes (or ``max_duration`` passes, which terminates it)."""

    metrics: Sequence[Metric]
    measure: Measure
    clock: Clock = field(default_factory=RealClock)
    error_retry_interval: timedelta = DEFAULT_ERROR_RETRY_INTERVAL
    max_duration: timedelta | None = None
    on_measurement: Callable[[MetricResult, Measurement], None] | None = None

    def due_at(self, result: MetricResult, started: datetime) -> datetime | None:
        metric = result.metric
        if result.phase.completed:
            return None
        if not result.measurements:
            return started + (metric.initial_delay or timedelta(0))
        effective = metric.effective_count
        if effective is not None and result.count >= effective:
            return None
        last = result.measurements[-1]
        if last.phase is Phase.ERROR:
            interval = self.error_retry_interval
        else:
            interval = metric.interval or timedelta(0)
        return last.finished_at + interval

    def execute(self) -> RunResult:
        started = self.clock.now()
        results = [MetricResult(metric) for metric in self.metrics]
        terminate = False
        while True:
            terminating = is_terminating(results, terminate)
            if not terminating:
                for result in results:
                    due = self.due_at(result, started)
                    if due is not None and due <= self.clock.now():
                        measurement = self.measure(result.metric)
                        result.record(measurement)
                        if self.on_measurement is not None:
                            self.on_measurement(result, measurement)
            phase, message = assess_run(results, terminating)
            if phase.completed:
                return RunResult(phase, message, results, started, self.clock.now())
            if is_terminating(results, terminate):
                continue  # the next pass assesses the rest with terminating=true
            now = self.clock.now()
            if self.max_duration is not None and now - started >= self.max_duration:
                terminate = True
                continue
            pending = [d for r in results if (d := self.due_at(r, started)) is not None]
            if not pending:
                terminate = True  # nothing left to measure (cannot happen with valid specs)
                continue
            wake = min(pending)
            if self.max_duration is not None:
                wake = min(wake, started + self.max_duration)
            try:
                self.clock.sleep(max(0.0, (wake - now).total_seconds()))
            except KeyboardInterrupt:
                terminate = True  # like spec.terminate: finish with what was measured


def prometheus_measure(
    address_override: str | None,
    clock: Clock,
    provider: PrometheusProvider | None = None,
) -> Measure:
    """A ``Measure`` that queries Prometheus and applies the metric's conditions."""
    prometheus = provider or PrometheusProvider(now=clock.now)

    def measure(metric: Metric) -> Measurement:
        started = clock.now()
        try:
            query = PrometheusQuery.from_spec(metric.provider, address_override)
            result = prometheus.measure(query)
        except ProviderError as exc:
            return Measurement(Phase.ERROR, started, clock.now(), message=str(exc))
        outcome = evaluate_result(result.value, metric.success_condition, metric.failure_condition)
        metadata = dict(result.metadata)
        if result.warnings:
            metadata["warnings"] = "; ".join(result.warnings)
        return Measurement(
            outcome.phase,
            started,
            clock.now(),
            value=result.value_string,
            message=outcome.message,
            result=result.value,
            metadata=metadata,
        )

    return measure
