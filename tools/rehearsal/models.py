"""Models for a rehearsal, trained into a temporary MLflow store with the real training code.

- ``champion``: the stable version (seed 42);
- ``retrained``: a good canary, same data and quality, another seed;
- ``flipped``: trained on inverted labels, so it predicts the opposite probabilities — a
  canary whose prediction distribution has clearly drifted;
- ``partly-flipped``: trained with 40% of the labels flipped — right about 70% of the time
  instead of about 96%: a canary only live accuracy (ground-truth feedback) exposes clearly.

Each model is registered and then fetched into a plain directory, which the API processes
load through ``MODEL_URI=<directory>`` (no tracking server needed while serving).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from service import registry
from tools.rehearsal.prometheus import HarnessError

MODEL_NAME = registry.MODEL_NAME
# Fewer trees than production (101): training and ONNX conversion stay quick, and the
# rehearsal compares models with each other, not with the quality gate.
N_ESTIMATORS = 31


@dataclass(frozen=True)
class ModelSpec:
    key: str
    seed: int
    label_noise: float


SPECS = {
    "champion": ModelSpec("champion", seed=42, label_noise=0.0),
    "retrained": ModelSpec("retrained", seed=7, label_noise=0.0),
    "flipped": ModelSpec("flipped", seed=42, label_noise=1.0),
    "partly-flipped": ModelSpec("partly-flipped", seed=7, label_noise=0.4),
}


@dataclass(frozen=True)
class TrainedModels:
    tracking_uri: str
    directories: dict[str, Path]

    def path(self, key: str) -> Path:
        return self.directories[key]


def train_models(workdir: Path, keys: tuple[str, ...] = tuple(SPECS)) -> TrainedModels:
    """Train, register and fetch the models named by ``keys`` under ``workdir``."""
    try:
        from service.model import fetch_model
        from service.registry import configure_tracking
        from training.policy import register
        from training.train import TrainConfig, fit_and_log
    except ImportError as exc:  # the training extra is not installed
        raise HarnessError(
            f"training needs the 'train' extra (pip install -e '.[train]'): {exc}"
        ) from None
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    uri = configure_tracking(f"sqlite:///{workdir / 'mlflow.db'}")
    directories: dict[str, Path] = {}
    # MLflow prints progress to stdout; the rehearsal's stdout is for its report.
    with contextlib.redirect_stdout(sys.stderr):
        for key in keys:
            spec = SPECS[key]
            config = TrainConfig(
                seed=spec.seed, label_noise=spec.label_noise, n_estimators=N_ESTIMATORS
            )
            run = fit_and_log(config)
            # Registered without the gate, into the rehearsal's own throwaway store: the
            # rehearsal needs a drifted canary the gate would refuse, and no alias moves.
            version, _ = register(run, MODEL_NAME)
            directories[key] = fetch_model(
                f"models:/{MODEL_NAME}/{version}", workdir / key, tracking_uri=uri
            )
    return TrainedModels(uri, directories)
