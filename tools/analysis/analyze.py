"""The one way to run an analysis: what ``gitops analyze`` and ``gitops rehearse`` both call.

A template (one file, or several merged as a Rollout's analysis step merges them) is resolved
with its args and run against Prometheus by :class:`~tools.analysis.run.AnalysisRun`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

from tools.analysis.run import (
    DEFAULT_ERROR_RETRY_INTERVAL,
    AnalysisRun,
    Clock,
    Measurement,
    MetricResult,
    RealClock,
    RunResult,
    prometheus_measure,
)
from tools.analysis.template import (
    Overrides,
    SpecError,
    Template,
    find_template,
    merge_templates,
    resolve_args,
    resolve_metrics,
)

Progress = Callable[[MetricResult, Measurement], None]


def load_template(refs: str | Sequence[str], root: Path | None = None) -> Template:
    """The template named or stored at *refs* (several are merged into one, as a Rollout's
    analysis step merges its templates). Raises TemplateError when one cannot be found."""
    if isinstance(refs, str):
        return find_template(refs, root)
    return merge_templates([find_template(ref, root) for ref in refs])


def unknown_args(template: Template, args: Mapping[str, str]) -> list[str]:
    """Names in *args* that the template does not declare (Argo ignores them; worth a warning).
    Empty when the args do not resolve: :func:`run_template` reports that as the run's Error."""
    try:
        return resolve_args(template, dict(args))[1]
    except SpecError:
        return []


def run_template(
    template: Template,
    *,
    prometheus: str | None,
    args: Mapping[str, str],
    metrics: Sequence[str] = (),
    overrides: Overrides | None = None,
    error_retry: timedelta = DEFAULT_ERROR_RETRY_INTERVAL,
    clock: Clock | None = None,
    max_duration: timedelta | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Resolve and run; raises SpecError when Argo would end the run as Error unmeasured.

    *prometheus* replaces every provider's address; *progress* is called after every
    measurement; *max_duration* terminates the run (as ``spec.terminate`` would) when reached.
    """
    values, _ = resolve_args(template, dict(args))
    resolved = resolve_metrics(template, values, only=metrics, overrides=overrides)
    clock = clock or RealClock()
    analysis = AnalysisRun(
        resolved,
        prometheus_measure(prometheus, clock),
        clock=clock,
        error_retry_interval=error_retry,
        max_duration=max_duration,
        on_measurement=progress,
    )
    return analysis.execute()
