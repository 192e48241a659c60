"""A canary rehearsal on one machine: Prometheus, a stable and a canary API, load, analysis.

:class:`Rehearsal` owns the shared pieces (models, Prometheus, the stable API) and runs one
:class:`Scenario` at a time: it starts that scenario's canary, registers it as a scrape
target with its own pod-template hash, sends weighted load, lets the rate window fill, and
then runs the repository's AnalysisTemplates — merged into one AnalysisRun, as the Rollout's
analysis step does — with the time-related args and counts scaled down.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from tools.analysis.analyze import load_template, run_template
from tools.analysis.durations import format_duration, parse_duration
from tools.analysis.phases import Phase
from tools.analysis.report import write_report
from tools.analysis.run import Measurement, MetricResult, RunResult
from tools.analysis.template import Overrides, SpecError, TemplateError
from tools.errors import UserError
from tools.rehearsal.api import ApiProcess
from tools.rehearsal.load import LoadGenerator, LoadStats, labelled_rows
from tools.rehearsal.models import TrainedModels, train_models
from tools.rehearsal.prometheus import HarnessError, PrometheusServer, Target
from tools.repo import repo_root

NAMESPACE = "model-api-rehearsal"
TEMPLATES = ("success-rate", "latency-p95", "prediction-drift")
# Alone: its window default (10m) differs from the others' (2m), and merged templates must agree.
ACCURACY_TEMPLATES = ("accuracy",)
DECISIONS = {
    Phase.SUCCESSFUL: "promote",
    Phase.FAILED: "abort",
    Phase.ERROR: "abort",
    Phase.INCONCLUSIVE: "pause (Inconclusive: a human decides)",
}


QUALITY_RULES = "base/monitoring/prometheusrule-model-api-quality.yaml"
# The quality alerts' `for:` (30m, 10m) scaled down for the rehearsal's Prometheus.
RULE_FOR = "5s"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    canary_model: str = "retrained"
    fault: str = "none"
    canary_share: float = 0.1
    rate: float = 40.0
    kill_prometheus: bool = False
    expected: tuple[Phase, ...] = (Phase.SUCCESSFUL,)
    templates: tuple[str, ...] = TEMPLATES
    # The load generator posts the true labels of what it sent (POST /feedback to the stable).
    feedback: bool = False
    # Rows sent: the validation split, or all rows (the population training describes).
    rows: str = "validation"
    # Columns multiplied by a factor in every row sent (input drift, for every API alike).
    shift: tuple[tuple[str, float], ...] = ()
    # Alert (name, labels) that must fire in the rehearsal's Prometheus during the scenario.
    alert: tuple[str, tuple[tuple[str, str], ...]] | None = None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("good", "a retrained canary of the same quality"),
        Scenario(
            "errors",
            "the canary answers 500 on 5% of requests",
            fault="errors",
            expected=(Phase.FAILED,),
        ),
        Scenario(
            "latency",
            "the canary is 300 ms slower per request",
            fault="latency",
            rate=15.0,  # the sleep blocks the canary's event loop; keep it below saturation
            expected=(Phase.FAILED,),
        ),
        Scenario(
            "drift",
            "the canary's model was trained on flipped labels",
            canary_model="flipped",
            expected=(Phase.FAILED,),
        ),
        Scenario(
            "no-traffic",
            "the canary runs but receives no requests",
            canary_share=0.0,
            expected=(Phase.FAILED, Phase.INCONCLUSIVE),
        ),
        Scenario(
            "prometheus-down",
            "Prometheus is killed after the first measurements",
            kill_prometheus=True,
            expected=(Phase.ERROR,),
        ),
        Scenario(
            "accuracy-good",
            "a retrained canary, judged on live accuracy from delayed ground-truth feedback",
            templates=ACCURACY_TEMPLATES,
            feedback=True,
            canary_share=0.2,
        ),
        Scenario(
            "accuracy-worse",
            "the canary's model was trained on 40% flipped labels; ground truth arrives late",
            canary_model="partly-flipped",
            templates=ACCURACY_TEMPLATES,
            feedback=True,
            canary_share=0.2,
            expected=(Phase.FAILED,),
        ),
        Scenario(
            "input-drift",
            "every client sends 'mean radius' x1.5: the drift alert fires, the canary is fine",
            rows="all",
            shift=(("mean radius", 1.5),),
            alert=("ModelApiInputDrift", (("feature", "mean radius"),)),
        ),
    )
}
# Names that run several scenarios: `--scenario accuracy` shows both verdicts.
GROUPS: dict[str, tuple[str, ...]] = {"accuracy": ("accuracy-good", "accuracy-worse")}


def expand(names: Sequence[str]) -> list[str]:
    """Scenario names with groups replaced by their members (order kept, no repeats)."""
    expanded: list[str] = []
    for name in names:
        for member in GROUPS.get(name, (name,)):
            if member not in expanded:
                expanded.append(member)
    return expanded


@dataclass(frozen=True)
class Timing:
    """Scaled-down analysis timing (the templates use a 2m window and 5 x 1m)."""

    window: str = "10s"
    interval: str = "5s"
    count: int = 3
    error_retry: str = "1s"
    warmup: float = 12.0  # seconds of load before the first measurement

    @property
    def interval_delta(self) -> timedelta:
        return parse_duration(self.interval)

    @classmethod
    def scaled(cls, *, duration: str, count: int, window: str, warmup: float) -> Timing:
        """``count`` measurements spread over ``duration`` (Go durations), at least 1s apart."""
        if count < 1:
            raise UserError("--count must be at least 1")
        try:
            total = parse_duration(duration)
            parse_duration(window)
        except ValueError as exc:
            raise UserError(str(exc), hint="use a Go duration like 10s or 1m") from None
        if total <= timedelta(0):
            raise UserError("--duration must be positive")
        if warmup < 0:
            raise UserError("--warmup must not be negative")
        # count measurements span (count - 1) intervals; at least one second apart.
        interval = max(timedelta(seconds=1), total / max(1, count - 1))
        return cls(window=window, interval=format_duration(interval), count=count, warmup=warmup)


@dataclass
class ScenarioResult:
    scenario: Scenario
    run: RunResult
    load: LoadStats
    canary_hash: str
    notes: list[str] = field(default_factory=list)
    # Whether the scenario's alert fired (None: the scenario expects none).
    alert_fired: bool | None = None

    @property
    def decision(self) -> str:
        return DECISIONS.get(self.run.phase, "abort")

    @property
    def as_expected(self) -> bool:
        return self.run.phase in self.scenario.expected and self.alert_fired is not False


def default_repo() -> Path:
    """The checkout to take templates from: the current one, else the one holding this code."""
    current = repo_root()
    if (current / "rollouts").is_dir():
        return current
    return Path(__file__).resolve().parents[2]


class Rehearsal:
    """Shared environment for one or more scenarios; use as a context manager."""

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        timing: Timing | None = None,
        templates: tuple[str, ...] = TEMPLATES,
        repo: Path | None = None,
        models: TrainedModels | None = None,
        model_keys: tuple[str, ...] = ("champion", "retrained", "flipped", "partly-flipped"),
        log: bool = True,
    ) -> None:
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="gitops-rehearsal-"))
        self.timing = timing or Timing()
        self.template_names = templates
        self.repo = repo
        self.models = models
        self.model_keys = model_keys
        self.log_enabled = log
        self.stable_hash = "stable" + secrets.token_hex(3)
        self.prometheus: PrometheusServer | None = None
        self.stable: ApiProcess | None = None
        self._rows: dict[str, tuple[list[str], list[list[float]], list[int]]] = {}
        self._templates: dict[tuple[str, ...], Any] = {}

    def log(self, message: str) -> None:
        if self.log_enabled:
            print(f"[rehearsal {time.strftime('%H:%M:%S')}] {message}", flush=True)

    def __enter__(self) -> Rehearsal:
        try:
            self.setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def setup(self) -> None:
        # Resolve templates first: a broken template should fail before minutes of setup.
        repo = self.repo or default_repo()
        self._repo = repo
        self.template = load_template(self.template_names, repo)
        self._templates[self.template_names] = self.template
        if self.models is None:
            self.log("training models into a temporary MLflow store")
            self.models = train_models(self.workdir / "models", self.model_keys)
        self.log("starting Prometheus")
        rules = scaled_rules(repo / QUALITY_RULES, self.workdir / "rules-model-quality.yaml")
        self.prometheus = PrometheusServer(self.workdir / "prometheus", rule_files=[rules])
        self.prometheus.start()
        self.log("starting the stable API (champion)")
        self.stable = ApiProcess("stable", self.models.path("champion"), self.workdir).start()
        self.prometheus.add_target(Target(self.stable.address, NAMESPACE, self.stable_hash))

    def close(self) -> None:
        if self.stable is not None:
            self.stable.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def rows(self, split: str) -> tuple[list[str], list[list[float]], list[int]]:
        if split not in self._rows:
            self._rows[split] = labelled_rows(split)
        return self._rows[split]

    def template_for(self, scenario: Scenario) -> Any:
        if scenario.templates not in self._templates:
            self._templates[scenario.templates] = load_template(scenario.templates, self._repo)
        return self._templates[scenario.templates]

    def run(self, scenario: Scenario) -> ScenarioResult:
        assert self.prometheus is not None and self.stable is not None
        assert self.models is not None
        canary_hash = "canary" + secrets.token_hex(3)
        self.log(f"scenario {scenario.name}: {scenario.description}")
        canary = ApiProcess(
            f"canary-{scenario.name}",
            self.models.path(scenario.canary_model),
            self.workdir,
            fault=scenario.fault,
        ).start()
        canary_target = Target(canary.address, NAMESPACE, canary_hash)
        prometheus = self.prometheus
        own_prometheus: PrometheusServer | None = None
        load: LoadGenerator | None = None
        notes: list[str] = []
        try:
            if scenario.kill_prometheus:
                # Its own Prometheus, so killing it leaves the shared one to other scenarios.
                own_prometheus = PrometheusServer(self.workdir / f"prometheus-{scenario.name}")
                own_prometheus.start()
                own_prometheus.add_target(Target(self.stable.address, NAMESPACE, self.stable_hash))
                prometheus = own_prometheus
            prometheus.add_target(canary_target)
            columns, rows, labels = self.rows(scenario.rows)
            load = LoadGenerator(
                self.stable.url,
                canary.url if scenario.canary_share > 0 else None,
                rate=scenario.rate,
                canary_share=scenario.canary_share,
                columns=columns,
                rows=rows,
                labels=labels if scenario.feedback else None,
                feedback_url=self.stable.url,
                shift=dict(scenario.shift),
            ).start()
            prometheus.wait_for_series(f'up{{rollouts_pod_template_hash="{canary_hash}"}} == 1')
            if scenario.canary_share > 0:
                # The canary's first answers are scraped: its series exist before the window.
                prometheus.wait_for_series(
                    "model_api_requests_total"
                    f'{{rollouts_pod_template_hash="{canary_hash}",route="/invocations"}}'
                )
            self.log(f"load running; waiting {self.timing.warmup:.0f}s for the rate window")
            time.sleep(self.timing.warmup)
            run = self._analyse(
                prometheus, canary_hash, kill=own_prometheus, template=self.template_for(scenario)
            )
            if own_prometheus is not None:
                notes.append("Prometheus was killed after the first round of measurements")
            alert_fired = None
            if scenario.alert is not None:
                alert_fired = self._wait_for_alert(prometheus, *scenario.alert)
                state = "fired" if alert_fired else "did NOT fire"
                notes.append(f"alert {scenario.alert[0]} {dict(scenario.alert[1])} {state}")
        finally:
            stats = load.stop() if load is not None else LoadStats()
            canary.stop()
            if own_prometheus is not None:
                own_prometheus.stop()
            else:
                prometheus.remove_target(canary_target)
        return ScenarioResult(scenario, run, stats, canary_hash, notes, alert_fired)

    def _wait_for_alert(
        self,
        prometheus: PrometheusServer,
        name: str,
        labels: tuple[tuple[str, str], ...],
        timeout: float = 60.0,
    ) -> bool:
        """Whether ``name`` fires with ``labels`` (in the scenario's namespace) within timeout."""
        wanted = {"namespace": NAMESPACE, **dict(labels)}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for alert in prometheus.firing(name):
                if all(alert.get(k) == v for k, v in wanted.items()):
                    return True
            time.sleep(1.0)
        return False

    def _analyse(
        self,
        prometheus: PrometheusServer,
        canary_hash: str,
        kill: PrometheusServer | None,
        template: Any,
    ) -> RunResult:
        args = {
            "namespace": NAMESPACE,
            "canary-hash": canary_hash,
            "stable-hash": self.stable_hash,
            "window": self.timing.window,
        }
        overrides = Overrides(count=self.timing.count, interval=self.timing.interval)
        taken = itertools.count(1)
        metric_count = len(template.metric_names)

        def after_measurement(_result: MetricResult, _m: Measurement) -> None:
            # Kill Prometheus once every metric has been measured once: mid-run.
            if kill is not None and next(taken) == metric_count:
                self.log("killing Prometheus")
                kill.kill()

        self.log(f"analysis: {metric_count} metrics, {self.timing.count} x {self.timing.interval}")
        return run_template(
            template,
            prometheus=prometheus.url,
            args=args,
            overrides=overrides,
            error_retry=parse_duration(self.timing.error_retry),
            # A hard stop far beyond what count x interval needs: never hang a CI job.
            max_duration=self.timing.interval_delta * (self.timing.count + 2) * 4,
            progress=after_measurement if kill is not None else None,
        )


def rehearse(
    names: Sequence[str],
    timing: Timing,
    *,
    log: bool = True,
    report_dir: Path | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    """Run the named scenarios in one shared environment; *on_result* sees each as it ends,
    and with *report_dir* each gets an HTML report ``rehearsal-<name>.html`` there."""
    results: list[ScenarioResult] = []
    names = expand(names)
    try:
        keys = ("champion", *sorted({SCENARIOS[n].canary_model for n in names}))
        with Rehearsal(timing=timing, log=log, model_keys=keys) as rehearsal:
            for name in names:
                result = rehearsal.run(SCENARIOS[name])
                results.append(result)
                if on_result is not None:
                    on_result(result)
                if report_dir is not None:
                    path = report_dir / f"rehearsal-{name}.html"
                    write_report(result.run, path, title=f"rehearsal {name}")
    except (HarnessError, TemplateError, SpecError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"rehearsal failed: {exc}") from None
    return results


def scaled_rules(source: Path, target: Path) -> Path:
    """The quality PrometheusRule's groups as a Prometheus rule file, timing scaled down:
    groups evaluated every second and every alert's ``for`` :data:`RULE_FOR`."""
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
        groups = document["spec"]["groups"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise HarnessError(f"cannot read the quality rules {source}: {exc}") from None
    for group in groups:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = RULE_FOR
    target.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    return target
