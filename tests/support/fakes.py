"""A small, real (numpy) logistic-regression predictor that satisfies ``service.predictor``.

Used where the HTTP layer is under test: it computes genuine probabilities from the matrix it
gets, so a column put in the wrong place changes the answer. ``predictor_from_env`` is the
factory the subprocess servers use (``tests/support/fake_server.py``).
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from service.predictor import Column, ModelInfo, Prediction
from service.settings import ServeSettings

# The 30 breast-cancer feature names, in scikit-learn's order.
FEATURES = (
    "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness",
    "mean compactness", "mean concavity", "mean concave points", "mean symmetry",
    "mean fractal dimension", "radius error", "texture error", "perimeter error", "area error",
    "smoothness error", "compactness error", "concavity error", "concave points error",
    "symmetry error", "fractal dimension error", "worst radius", "worst texture",
    "worst perimeter", "worst area", "worst smoothness", "worst compactness", "worst concavity",
    "worst concave points", "worst symmetry", "worst fractal dimension",
)  # fmt: skip
# First row of the dataset (a malignant sample).
ROW = (
    17.99, 10.38, 122.8, 1001.0, 0.1184, 0.2776, 0.3001, 0.1471, 0.2419, 0.07871,
    1.095, 0.9053, 8.589, 153.4, 0.006399, 0.04904, 0.05373, 0.01587, 0.03003, 0.006193,
    25.38, 17.33, 184.6, 2019.0, 0.1622, 0.6656, 0.7119, 0.2654, 0.4601, 0.1189,
)  # fmt: skip

INFO = ModelInfo(
    name="model-api",
    version="7",
    alias="champion",
    run_id="abc123",
    uri="models:/model-api@champion",
    runtime="fake",
)


class LinearPredictor:
    """p = sigmoid(X @ w + b); label = p >= 0.5. Records every matrix it is given."""

    def __init__(
        self,
        columns: Sequence[Column] | None = None,
        *,
        info: ModelInfo = INFO,
        delay: float = 0.0,
        delay_rows: int = 1,
        fail_load: str | None = None,
        fail_predict: str | None = None,
        mlmodel: dict[str, object] | None = None,
    ) -> None:
        self.columns: Sequence[Column] = list(columns or [Column(name) for name in FEATURES])
        self.info: ModelInfo = info
        width = len(self.columns)
        # Distinct weights per column: a swapped column changes the score.
        self.weights = np.linspace(-1.0, 1.0, width) / np.maximum(np.abs(ROW[:width]), 1e-3)
        self.bias = 0.1
        self.delay = delay
        self.delay_rows = delay_rows
        self.fail_load = fail_load
        self.fail_predict = fail_predict
        # What a real model's MLmodel file says (the training distribution); None = nothing.
        self.mlmodel = mlmodel
        self.loads = 0
        self.seen: list[npt.NDArray[np.float64]] = []
        self._lock = threading.Lock()

    def load(self) -> None:
        self.loads += 1
        if self.fail_load:
            raise RuntimeError(self.fail_load)

    def scores(self, features: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        # Clipped like a real model's inputs are bounded (the served RandomForest is finite on
        # every finite input): extreme values must not overflow the dot product to inf - inf.
        z = np.clip(features, -1e150, 1e150) @ self.weights + self.bias
        with np.errstate(over="ignore"):
            result: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z))
        return result

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        assert features.dtype == np.float64 and features.ndim == 2
        assert features.shape[1] == len(self.columns)
        with self._lock:
            self.seen.append(features.copy())
        if self.delay and len(features) >= self.delay_rows:
            time.sleep(self.delay)
        if self.fail_predict and len(self.seen) > 1:  # the load's warm-up call succeeds
            raise RuntimeError(self.fail_predict)
        probabilities = self.scores(features)
        return Prediction((probabilities >= 0.5).astype(np.int64), probabilities)


def training_rows(count: int = 1000, seed: int = 0) -> npt.NDArray[np.float64]:
    """Rows around :data:`ROW` (each feature times a log-normal factor): "training data"."""
    factors = np.random.default_rng(seed).lognormal(0.0, 0.2, size=(count, len(FEATURES)))
    rows: npt.NDArray[np.float64] = np.asarray(ROW) * factors
    return rows


def mlmodel_with_distribution(accuracy: float = 0.9) -> dict[str, object]:
    """An MLmodel mapping carrying the training distribution of :func:`training_rows`."""
    from service.drift import METADATA_KEY, fit_distribution

    distribution = fit_distribution(FEATURES, training_rows(), accuracy=accuracy)
    return {"metadata": {METADATA_KEY: distribution.to_metadata()}}


def expected_labels(predictor: LinearPredictor, rows: list[tuple[float, ...]]) -> list[int]:
    """The labels ``predictor`` gives ``rows``, computed without the API."""
    return [int(p >= 0.5) for p in predictor.scores(np.array(rows))]


class PoolKeepingPredictor(LinearPredictor):
    """Leaves an idle, non-daemon worker thread behind at load, as MLflow's artifact download
    pool does: a thread that is nobody's computation."""

    def load(self) -> None:
        super().load()
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="library-pool")
        self.pool.submit(int).result(timeout=10)


def predictor_from_env(settings: ServeSettings) -> LinearPredictor:
    """Factory for subprocess servers: FAKE_PREDICT_DELAY seconds per call with at least
    FAKE_DELAY_ROWS rows, FAKE_FAIL_LOAD makes load() raise that message, FAKE_FAIL_PREDICT
    makes every predict() after the warm-up raise it (an unexpected error: 500 and a logged
    traceback), FAKE_IDLE_POOL=1 leaves a library's idle thread pool behind."""
    kind = PoolKeepingPredictor if os.environ.get("FAKE_IDLE_POOL") == "1" else LinearPredictor
    return kind(
        delay=float(os.environ.get("FAKE_PREDICT_DELAY", "0")),
        delay_rows=int(os.environ.get("FAKE_DELAY_ROWS", "1")),
        fail_load=os.environ.get("FAKE_FAIL_LOAD") or None,
        fail_predict=os.environ.get("FAKE_FAIL_PREDICT") or None,
    )
