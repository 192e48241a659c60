"""``model-api train``: fit, log to MLflow, register, and move the alias behind a quality gate.

The model is a scikit-learn RandomForest on the breast-cancer data set that ships with
scikit-learn (569 rows, 30 float features, no download). The train/validation split is fixed
(``SPLIT_SEED``) so that every candidate is scored on the same validation rows and the gate
compares like with like; ``--seed`` only changes the forest and the label-noise draw.

Quality gate: the candidate's validation ROC AUC must be at least the champion's minus
``GATE_TOLERANCE`` (0.005). Without a champion the gate passes. A failed gate still registers the
version (so it can be inspected) but leaves the alias where it was.

The functions below are a small, stable API: the Argo Workflows pipeline (tools/pipeline) and the
canary rehearsal import them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service import onnx_export, tracking

MODEL_NAME = "model-api"
ALIAS = "champion"
GATE_METRIC = "roc_auc"
GATE_TOLERANCE = 0.005
SPLIT_SEED = 20240611
VALIDATION_FRACTION = 0.25
# An odd number of fully grown trees never produces an exact 0.5 vote.
DEFAULT_N_ESTIMATORS = 101
ARTIFACT_NAME = "model"


class TrainingError(Exception):
    """Training, conversion or registration failed; the message says why."""


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 42
    label_noise: float = 0.0
    n_estimators: int = DEFAULT_N_ESTIMATORS
    model_name: str = MODEL_NAME


@dataclass(frozen=True)
class TrainedRun:
    run_id: str
    model_uri: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str
    champion_version: str | None
    champion_metrics: dict[str, float] | None


@dataclass(frozen=True)
class TrainResult:
    run: TrainedRun
    version: str
    registered_uri: str
    gate: GateDecision
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """The fixed split; frames keep the feature names that become the model signature."""

    x_train: Any  # pandas.DataFrame
    x_valid: Any
    y_train: npt.NDArray[np.int64]
    y_valid: npt.NDArray[np.int64]


def load_dataset() -> Dataset:
    """Breast-cancer data, split 75/25 (stratified) with the fixed ``SPLIT_SEED``."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer(as_frame=True)
    features = bunch.data.astype("float64")
    target = bunch.target.to_numpy(dtype=np.int64)
    x_train, x_valid, y_train, y_valid = train_test_split(
        features,
        target,
        test_size=VALIDATION_FRACTION,
        random_state=SPLIT_SEED,
        stratify=target,
    )
    return Dataset(x_train, x_valid, y_train, y_valid)


def flip_labels(labels: npt.NDArray[np.int64], fraction: float, seed: int) -> npt.NDArray[np.int64]:
    """Flip ``fraction`` of the binary labels (an experiment knob to make worse models)."""
    if not 0.0 <= fraction <= 1.0:
        raise TrainingError(f"label noise must be between 0 and 1, got {fraction}")
    flipped = labels.copy()
    count = round(fraction * len(labels))
    if count:
        rows = np.random.default_rng(seed).choice(len(labels), size=count, replace=False)
        flipped[rows] = 1 - flipped[rows]
    return flipped


def build_estimator(config: TrainConfig) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    if config.n_estimators < 1:
        raise TrainingError(f"n_estimators must be at least 1, got {config.n_estimators}")
    return RandomForestClassifier(
        n_estimators=config.n_estimators, random_state=config.seed, n_jobs=1
    )


def evaluate(estimator: Any, x_valid: Any, y_valid: npt.NDArray[np.int64]) -> dict[str, float]:
    """ROC AUC, accuracy and log loss on the validation split."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    probabilities = estimator.predict_proba(x_valid)[:, 1]
    return {
        "roc_auc": float(roc_auc_score(y_valid, probabilities)),
        "accuracy": float(accuracy_score(y_valid, estimator.predict(x_valid))),
        "log_loss": float(log_loss(y_valid, probabilities, labels=[0, 1])),
    }


def fit_and_log(config: TrainConfig) -> TrainedRun:
    """Fit on the fixed split, convert to ONNX, check parity, and log everything to MLflow."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    data = load_dataset()
    estimator = build_estimator(config)
    estimator.fit(data.x_train, flip_labels(data.y_train, config.label_noise, config.seed))
    metrics = evaluate(estimator, data.x_valid, data.y_valid)

    onnx_bytes = onnx_export.to_onnx_bytes(estimator, data.x_train.shape[1])
    session = onnx_export.onnx_session(onnx_bytes)
    parity = onnx_export.check_parity(session, estimator, data.x_valid.to_numpy(np.float64))
    if not parity.ok:
        raise TrainingError(
            f"ONNX conversion does not reproduce scikit-learn on the validation split: "
            f"{parity.label_mismatches} label mismatches, max probability difference "
            f"{parity.max_abs_probability_diff:.3g} (tolerance {onnx_export.PROBABILITY_TOLERANCE})"
        )

    tracking.ensure_configured()
    tracking.ensure_experiment()
    signature = infer_signature(data.x_valid, estimator.predict(data.x_valid))
    with tempfile.TemporaryDirectory(prefix="model-api-onnx-") as scratch:
        onnx_path = Path(scratch) / onnx_export.ONNX_FILENAME
        onnx_path.write_bytes(onnx_bytes)
        with mlflow.start_run(run_name=f"rf-seed{config.seed}-noise{config.label_noise:g}") as run:
            mlflow.log_params(
                {
                    "model_class": type(estimator).__name__,
                    "n_estimators": config.n_estimators,
                    "seed": config.seed,
                    "label_noise": config.label_noise,
                    "split_seed": SPLIT_SEED,
                    "validation_fraction": VALIDATION_FRACTION,
                    "train_rows": len(data.y_train),
                    "validation_rows": len(data.y_valid),
                }
            )
            mlflow.log_metrics(
                {**metrics, "onnx_max_abs_probability_diff": parity.max_abs_probability_diff}
            )
            info = mlflow.sklearn.log_model(
                estimator,
                name=ARTIFACT_NAME,
                signature=signature,
                input_example=data.x_valid.head(3),
                extra_files=[str(onnx_path)],
                # Explicit: inferring them spawns a process and picks up test tools.
                pip_requirements=_pip_requirements(),
                # skops refuses unknown types on load; the forest's tree structure is one.
                skops_trusted_types=["sklearn.tree._tree.Tree"],
                metadata={
                    onnx_export.METADATA_KEY: {
                        "path": f"extra_files/{onnx_export.ONNX_FILENAME}",
                        "input": onnx_export.INPUT_NAME,
                        "input_dtype": onnx_export.INPUT_DTYPE,
                        "opset": onnx_export.ONNX_OPSET,
                        "validation_rows": parity.rows,
                        "validation_max_abs_probability_diff": parity.max_abs_probability_diff,
                    }
                },
            )
    return TrainedRun(run_id=run.info.run_id, model_uri=info.model_uri, metrics=metrics)


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    packages = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")
    return [f"{name}=={version(name)}" for name in packages]


def _client() -> Any:
    from mlflow import MlflowClient

    tracking.ensure_configured()
    return MlflowClient()


def evaluate_gate(
    metrics: dict[str, float],
    model_name: str,
    alias: str = ALIAS,
    tolerance: float = GATE_TOLERANCE,
) -> GateDecision:
    """Candidate ROC AUC >= champion ROC AUC - tolerance; no champion means pass."""
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        registered = client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        registered = None
    if registered is None or alias not in (registered.aliases or {}):
        return GateDecision(True, f"no {model_name}@{alias} yet: first version passes", None, None)

    champion = client.get_model_version(model_name, str(registered.aliases[alias]))
    version = str(champion.version)
    champion_metrics = _run_metrics(client, champion.run_id)
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


def _run_metrics(client: Any, run_id: str | None) -> dict[str, float] | None:
    if not run_id:
        return None
    return {key: float(value) for key, value in client.get_run(run_id).data.metrics.items()}


def register(run: TrainedRun, model_name: str, aliases: Sequence[str] = ()) -> str:
    """Register ``run.model_uri`` as a new version of ``model_name``; set ``aliases``; return it."""
    import mlflow

    tracking.ensure_configured()
    version = str(mlflow.register_model(run.model_uri, model_name).version)
    for alias in aliases:
        set_alias(model_name, alias, version)
    return version


def set_alias(model_name: str, alias: str, version: str) -> None:
    _client().set_registered_model_alias(model_name, alias, version)


def train_and_register(
    config: TrainConfig, alias: str = ALIAS, *, gate: bool = True
) -> TrainResult:
    """Fit and log, register a new version, and move ``alias`` to it if the gate passes.

    The gate is evaluated before registration against the version ``alias`` points at; with
    ``gate=False`` the alias moves unconditionally (the decision still records the comparison).
    """
    run = fit_and_log(config)
    decision = evaluate_gate(run.metrics, config.model_name, alias)
    skipped = not gate and not decision.passed
    if skipped:
        decision = GateDecision(
            True,
            f"gate skipped (--no-gate); it would have failed: {decision.reason}",
            decision.champion_version,
            decision.champion_metrics,
        )
    version = register(run, config.model_name)
    client = _client()
    outcome = "skipped" if skipped else "passed" if decision.passed else "failed"
    client.set_model_version_tag(config.model_name, version, "gate", outcome)
    client.set_model_version_tag(config.model_name, version, "gate_reason", decision.reason[:5000])
    aliases: tuple[str, ...] = ()
    if decision.passed:
        set_alias(config.model_name, alias, version)
        aliases = (alias,)
    return TrainResult(
        run=run,
        version=version,
        registered_uri=f"models:/{config.model_name}/{version}",
        gate=decision,
        aliases=aliases,
    )


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the train options to ``parser`` (the ``model-api train`` subparser) or a new one."""
    parser = parser or argparse.ArgumentParser(
        prog="model-api train", description="Train, log to MLflow, register, gate the alias."
    )
    parser.add_argument("--seed", type=int, default=42, help="forest and label-noise seed (42)")
    parser.add_argument(
        "--label-noise",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="experiment knob: flip this fraction of the training labels (0.0)",
    )
    parser.add_argument(
        "--n-estimators",
        type=int,
        default=DEFAULT_N_ESTIMATORS,
        help=f"trees in the forest ({DEFAULT_N_ESTIMATORS})",
    )
    parser.add_argument("--model-name", default=MODEL_NAME, help="registered model name")
    parser.add_argument("--alias", default=ALIAS, help="alias moved when the gate passes")
    parser.add_argument(
        "--no-gate", action="store_true", help="move the alias even if the quality gate fails"
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or ./.mlflow)"
    )
    parser.add_argument(
        "--output-json", action="store_true", help="print the result as one JSON object"
    )
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when MODEL_NAME@ALIAS already exists (used by ./dev run)",
    )
    return parser


def current_version(model_name: str, alias: str) -> str | None:
    """The version ``model_name@alias`` points at, or None when the model or alias is missing."""
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise


def result_as_dict(result: TrainResult) -> dict[str, Any]:
    return asdict(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``model-api train``: 0 trained (gate passed or not), 1 failure, 2 usage."""
    args = build_parser().parse_args(argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run with parsed options (shared by ``main`` and the ``model-api`` dispatcher)."""
    config = TrainConfig(
        seed=args.seed,
        label_noise=args.label_noise,
        n_estimators=args.n_estimators,
        model_name=args.model_name,
    )
    # A dead tracking server otherwise costs minutes of HTTP retries before the error shows.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        with _stdout_to_stderr():
            uri = tracking.configure_tracking(args.tracking_uri)
            existing = current_version(config.model_name, args.alias) if args.if_missing else None
            if existing is None:
                result = train_and_register(config, args.alias, gate=not args.no_gate)
    except Exception as exc:  # every failure becomes one line, never a traceback
        reason = _describe(exc, tracking.resolve_tracking_uri(args.tracking_uri))
        print(f"model-api train: error: {reason}", file=sys.stderr)
        return 1
    if existing is not None:
        print(
            f"models:/{config.model_name}@{args.alias} is version {existing} in {uri}; "
            "not training (--if-missing)"
        )
        return 0
    if args.output_json:
        print(json.dumps({"tracking_uri": uri, **result_as_dict(result)}, sort_keys=True))
    else:
        print(f"tracking URI:  {uri}")
        print(f"run:           {result.run.run_id}")
        print("metrics:       " + ", ".join(f"{k}={v:.4f}" for k, v in result.run.metrics.items()))
        print(f"model URI:     {result.registered_uri}")
        print(
            f"gate:          {'PASSED' if result.gate.passed else 'FAILED'}: {result.gate.reason}"
        )
        moved = ", ".join(f"models:/{config.model_name}@{a}" for a in result.aliases)
        print(f"alias:         {moved or f'{args.alias} unchanged'}")
    return 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """MLflow prints progress to stdout; keep stdout for the result (and clean JSON)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _describe(exc: BaseException, uri: str) -> str:
    """A one-line reason, also for errors MLflow wraps around connection failures."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Max retries exceeded" in message or "Connection refused" in str(exc):
        return f"cannot reach the MLflow tracking server at {uri} ({type(exc).__name__})"
    return message


if __name__ == "__main__":
    raise SystemExit(main())
