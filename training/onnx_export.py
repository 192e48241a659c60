"""Convert the trained classifier to ONNX and prove the conversion faithful.

skl2onnx's random-forest classifier converter always emits ``TreeEnsembleClassifier`` with
float32 split thresholds (it never uses the double-precision ``*_as_tensor`` attributes of
ai.onnx.ml opset 3 for classifiers), so a double-precision graph is not available for this
estimator. The graph therefore takes **float32** input: scikit-learn's trees also cast their input
to float32 before comparing it with the thresholds, so both sides walk the same path through every
tree and only the summation of leaf probabilities differs in rounding. The parity check allows
exact label equality and ``PROBABILITY_TOLERANCE`` on the positive-class probability.

The graph's names (input, outputs, file name) are the ones serving reads
(:mod:`service.onnx_runtime`), and parity is checked with serving's own session and runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from service.onnx_runtime import INPUT_NAME, OnnxRunner

# float32 accumulation of ~100 leaf probabilities: a few ulps of 1.0 (1.2e-7 each).
PROBABILITY_TOLERANCE = 1e-5
ONNX_OPSET = 17
ONNX_ML_OPSET = 3


class ConversionError(Exception):
    """The ONNX graph could not be built or does not reproduce the scikit-learn model."""


@dataclass(frozen=True)
class Parity:
    """How closely the ONNX graph reproduces scikit-learn on a data set."""

    rows: int
    label_mismatches: int
    max_abs_probability_diff: float

    @property
    def ok(self) -> bool:
        return self.label_mismatches == 0 and self.max_abs_probability_diff <= PROBABILITY_TOLERANCE


def to_onnx_bytes(estimator: Any, n_features: int) -> bytes:
    """Serialize a fitted binary classifier as an ONNX graph (no ZipMap, float32 input)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    try:
        graph = convert_sklearn(
            estimator,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
            options={id(estimator): {"zipmap": False}},
            target_opset={"": ONNX_OPSET, "ai.onnx.ml": ONNX_ML_OPSET},
        )
    except Exception as exc:  # skl2onnx raises many unrelated types
        raise ConversionError(
            f"skl2onnx could not convert {type(estimator).__name__}: {exc}"
        ) from exc
    data: bytes = graph.SerializeToString()
    return data


def run_onnx(
    session: Any, features: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Labels and positive-class probabilities of a ``(rows, features)`` matrix."""
    return OnnxRunner(session)(features)


def check_parity(session: Any, estimator: Any, features: npt.NDArray[np.float64]) -> Parity:
    """Compare ONNX and scikit-learn predictions (labels and P(class 1)) on ``features``."""
    onnx_labels, onnx_probabilities = run_onnx(session, features)
    sk_input: Any = features
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:  # fitted on a DataFrame: keep sklearn's feature-name check quiet
        import pandas as pd

        sk_input = pd.DataFrame(features, columns=list(names))
    sk_probabilities = np.asarray(estimator.predict_proba(sk_input)[:, 1], dtype=np.float64)
    sk_labels = np.asarray(estimator.predict(sk_input), dtype=np.int64)
    return Parity(
        rows=int(features.shape[0]),
        label_mismatches=int(np.count_nonzero(onnx_labels != sk_labels)),
        max_abs_probability_diff=float(np.max(np.abs(onnx_probabilities - sk_probabilities))),
    )
