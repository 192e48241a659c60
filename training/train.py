"""Fit and evaluate the model, convert it to ONNX, and log the run to MLflow.

The model is a scikit-learn RandomForest on the breast-cancer data set that ships with
scikit-learn (569 rows, 30 float features, no download). The train/validation split is fixed
(``SPLIT_SEED``) so that every candidate is scored on the same validation rows and the gate
(:mod:`training.policy`) compares like with like; ``--seed`` only changes the forest and the
label-noise draw. Nothing here registers a version or moves an alias.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from service import drift, onnx_runtime, registry
from training import onnx_export, tracking

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
    model_name: str = registry.MODEL_NAME


@dataclass(frozen=True)
class TrainedRun:
    run_id: str
    model_uri: str
    metrics: dict[str, float]


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
    session = onnx_runtime.onnx_session(onnx_bytes)
    parity = onnx_export.check_parity(session, estimator, data.x_valid.to_numpy(np.float64))
    if not parity.ok:
        raise TrainingError(
            f"ONNX conversion does not reproduce scikit-learn on the validation split: "
            f"{parity.label_mismatches} label mismatches, max probability difference "
            f"{parity.max_abs_probability_diff:.3g} (tolerance {onnx_export.PROBABILITY_TOLERANCE})"
        )

    # What the service compares live inputs with (feature PSI) and live accuracy with.
    distribution = drift.fit_distribution(
        [str(c) for c in data.x_train.columns],
        data.x_train.to_numpy(np.float64),
        accuracy=metrics["accuracy"],
        classes=[int(c) for c in estimator.classes_],
    )

    registry.ensure_configured()
    tracking.ensure_experiment()
    signature = infer_signature(data.x_valid, estimator.predict(data.x_valid))
    with tempfile.TemporaryDirectory(prefix="model-api-onnx-") as scratch:
        onnx_path = Path(scratch) / onnx_runtime.ONNX_FILENAME
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
                pip_requirements=pip_requirements(),
                # skops refuses unknown types on load; the forest's tree structure is one.
                skops_trusted_types=["sklearn.tree._tree.Tree"],
                metadata={
                    onnx_runtime.METADATA_KEY: {
                        "path": f"extra_files/{onnx_runtime.ONNX_FILENAME}",
                        "input": onnx_runtime.INPUT_NAME,
                        "input_dtype": onnx_runtime.INPUT_DTYPE,
                        "opset": onnx_export.ONNX_OPSET,
                        "validation_rows": parity.rows,
                        "validation_max_abs_probability_diff": parity.max_abs_probability_diff,
                    },
                    drift.METADATA_KEY: distribution.to_metadata(),
                },
            )
    return TrainedRun(run_id=run.info.run_id, model_uri=info.model_uri, metrics=metrics)


def pip_requirements() -> list[str]:
    """What loading the scikit-learn flavour needs, pinned to the versions that trained it."""
    from importlib.metadata import version

    packages = ("mlflow", "scikit-learn", "skops", "numpy", "pandas", "scipy")
    return [f"{name}=={version(name)}" for name in packages]
