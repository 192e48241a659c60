"""A model trained once per test session into a temporary MLflow store (shared helper).

Training takes a few seconds, so the test modules that only need *a* registered model
(test_model*, test_onnx*, tests/load) share this one through :func:`trained_store`. Tests that
need a store of their own (the gate tests in test_train.py) create it in ``tmp_path``.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from service.model import fetch_model
from service.registry import configure_tracking
from training.policy import TrainResult, train_and_register
from training.train import TrainConfig


@dataclass(frozen=True)
class TrainedStore:
    root: Path
    tracking_uri: str
    result: TrainResult
    model_dir: Path  # the champion, fetched into a plain local directory


@functools.cache
def trained_store() -> TrainedStore:
    root = Path(tempfile.mkdtemp(prefix="model-api-test-store-"))
    atexit.register(shutil.rmtree, root, True)
    uri = configure_tracking(f"sqlite:///{root / 'mlflow.db'}")
    result = train_and_register(TrainConfig())
    model_dir = fetch_model("models:/model-api@champion", root / "champion", tracking_uri=uri)
    return TrainedStore(root=root, tracking_uri=uri, result=result, model_dir=model_dir)
