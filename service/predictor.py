"""The contract between the HTTP layer and the model runtime.

Routes never touch a model directly: they turn a request into a float64 matrix whose columns
follow :attr:`Predictor.columns`, call :meth:`Predictor.predict`, and shape the response.
``service.model`` holds the real runtime (ONNX Runtime, scikit-learn fallback); tests may
hand ``create_app`` any object that satisfies this protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


class ModelLoadError(Exception):
    """The model cannot be resolved, downloaded, read, run or warmed up; the message says why.

    Raised by the runtime (:mod:`service.model`) and by the data plane's warm-up; the server
    then refuses to start.
    """


@dataclass(frozen=True)
class Column:
    """One input column of the model signature (MLflow type names: double, float, long, ...)."""

    name: str
    type: str = "double"
    required: bool = True


@dataclass(frozen=True)
class ModelInfo:
    """What is being served; exported as labels of the ``model_api_model_info`` gauge."""

    name: str
    version: str
    alias: str
    run_id: str
    uri: str
    runtime: str  # "onnx" or "sklearn"


@dataclass(frozen=True)
class Prediction:
    """Per-row class labels and the probability of the positive class."""

    labels: npt.NDArray[np.int64]
    probabilities: npt.NDArray[np.float64]


@runtime_checkable
class Predictor(Protocol):
    info: ModelInfo
    columns: Sequence[Column]

    def load(self) -> None:
        """Build the runtime (the data plane then warms it up once); raise on failure."""

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        """Predict a validated ``(rows, len(columns))`` float64 matrix."""
