"""The one gate + register policy: which trained runs become registered versions, and which
version the ``champion`` alias names. This is the only module that moves an alias.

``model-api train``, ``gitops pipeline run --local`` and the pipeline's steps all apply it:

* **Gate**: the candidate's validation ROC AUC must be at least the champion's minus
  ``GATE_TOLERANCE`` (0.005). Without a champion (or without a ROC AUC to compare with) the gate
  passes. ``model-api train --no-gate`` turns a failure into a pass marked *skipped*.
* **Refused**: nothing is registered and no alias moves. The run stays in the experiment with its
  parameters, metrics and logged model, so the attempt remains traceable; only a version in the
  registry would be something a person or a tool could alias or deploy by mistake.
* **Passed**: the run's model is registered as a new version (a retry that finds a version
  already registered from the same run reuses it), the version is tagged ``gate``
  (``passed``/``skipped``) and ``gate_reason``, then the aliases move in the order given
  (the pipeline moves ``candidate`` before ``champion``, so champion never names a version
  candidate has not named).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from service import registry

if TYPE_CHECKING:
    from training.train import TrainConfig, TrainedRun

# This module imports the train extra (mlflow, scikit-learn) only where it trains or talks to
# MLflow, so the gitops CLI can read GATE_TOLERANCE, the gate's one default, without it.

CHAMPION_ALIAS = registry.CHAMPION_ALIAS
GATE_METRIC = "roc_auc"
GATE_TOLERANCE = 0.005
# MLflow caps tag values at 5000 characters.
TAG_VALUE_MAX = 5000


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str
    champion_version: str | None
    champion_metrics: dict[str, float] | None
    skipped: bool = False  # failed, but the caller chose to move the alias anyway

    @property
    def outcome(self) -> str:
        """The ``gate`` tag of a registered version: passed, skipped or failed."""
        return "skipped" if self.skipped else "passed" if self.passed else "failed"


@dataclass(frozen=True)
class Promotion:
    """What :func:`promote` did: the version registered (None when refused) and aliases moved."""

    version: str | None
    registered_uri: str | None
    aliases: tuple[str, ...]
    reused: bool  # a retry found the version registered from this run before


@dataclass(frozen=True)
class TrainResult:
    run: TrainedRun
    version: str | None
    registered_uri: str | None
    gate: GateDecision
    aliases: tuple[str, ...]


def client() -> Any:
    """An MlflowClient on the configured store."""
    from mlflow import MlflowClient

    registry.ensure_configured()
    return MlflowClient()


def evaluate_gate(
    metrics: dict[str, float],
    model_name: str,
    alias: str = CHAMPION_ALIAS,
    tolerance: float = GATE_TOLERANCE,
) -> GateDecision:
    """Candidate ROC AUC >= champion ROC AUC - tolerance; no champion means pass."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        registered = mlflow_client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        registered = None
    if registered is None or alias not in (registered.aliases or {}):
        return GateDecision(True, f"no {model_name}@{alias} yet: first version passes", None, None)

    champion = mlflow_client.get_model_version(model_name, str(registered.aliases[alias]))
    version = str(champion.version)
    champion_metrics = _run_metrics(mlflow_client, champion.run_id)
    candidate = metrics.get(GATE_METRIC)
    if candidate is None:
        return GateDecision(
            False, f"candidate has no {GATE_METRIC} metric", version, champion_metrics
        )
    reference = (champion_metrics or {}).get(GATE_METRIC)
    if reference is None:
        return GateDecision(
            True,
            f"{model_name}@{alias} (version {version}) has no {GATE_METRIC} to compare with: pass",
            version,
            champion_metrics,
        )
    floor = reference - tolerance
    verdict = "passes" if candidate >= floor else "fails"
    reason = (
        f"candidate {GATE_METRIC} {candidate:.4f} {verdict}: needs >= {floor:.4f} "
        f"({model_name}@{alias} version {version} has {reference:.4f}, tolerance {tolerance})"
    )
    return GateDecision(candidate >= floor, reason, version, champion_metrics)


def skip_gate(decision: GateDecision) -> GateDecision:
    """``--no-gate``: a failed decision becomes a pass marked skipped (the reason says why)."""
    if decision.passed:
        return decision
    return replace(
        decision,
        passed=True,
        skipped=True,
        reason=f"gate skipped (--no-gate); it would have failed: {decision.reason}",
    )


def _run_metrics(mlflow_client: Any, run_id: str | None) -> dict[str, float] | None:
    if not run_id:
        return None
    return {key: float(value) for key, value in mlflow_client.get_run(run_id).data.metrics.items()}


def register(run: TrainedRun, model_name: str) -> tuple[str, bool]:
    """Register ``run``'s model as a version of ``model_name``: (version, reused).

    Idempotent: the version already registered from ``run`` is reused, so a retried step does
    not create a second one. Moves no alias; :func:`promote` is the gated way in.
    """
    import mlflow

    query = f"name = '{model_name}' and run_id = '{run.run_id}'"
    found = sorted(int(v.version) for v in client().search_model_versions(query))
    if found:
        return str(found[0]), True
    return str(mlflow.register_model(run.model_uri, model_name).version), False


def promote(
    run: TrainedRun,
    decision: GateDecision,
    model_name: str,
    aliases: Sequence[str] = (CHAMPION_ALIAS,),
) -> Promotion:
    """Apply the policy (module docstring) to ``run`` given the gate's ``decision``."""
    if not decision.passed:
        return Promotion(version=None, registered_uri=None, aliases=(), reused=False)
    version, reused = register(run, model_name)
    mlflow_client = client()
    mlflow_client.set_model_version_tag(model_name, version, "gate", decision.outcome)
    mlflow_client.set_model_version_tag(
        model_name, version, "gate_reason", decision.reason[:TAG_VALUE_MAX]
    )
    for alias in aliases:
        mlflow_client.set_registered_model_alias(model_name, alias, version)
    return Promotion(
        version=version,
        registered_uri=f"models:/{model_name}/{version}",
        aliases=tuple(aliases),
        reused=reused,
    )


def train_and_register(
    config: TrainConfig, alias: str = CHAMPION_ALIAS, *, gate: bool = True
) -> TrainResult:
    """Fit and log, evaluate the gate against ``alias``, and promote (``model-api train``).

    With ``gate=False`` a failed gate is skipped: the version is registered and ``alias`` moves
    (the decision still records the comparison).
    """
    from training.train import fit_and_log

    run = fit_and_log(config)
    decision = evaluate_gate(run.metrics, config.model_name, alias)
    if not gate:
        decision = skip_gate(decision)
    done = promote(run, decision, config.model_name, (alias,))
    return TrainResult(
        run=run,
        version=done.version,
        registered_uri=done.registered_uri,
        gate=decision,
        aliases=done.aliases,
    )


def current_version(model_name: str, alias: str) -> str | None:
    """The version ``model_name@alias`` points at, or None when the model or alias is missing."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client().get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise
