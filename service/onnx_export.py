"""Convert the trained classifier to ONNX and prove the conversion faithful.

skl2onnx's random-forest classifier converter always emits ``TreeEnsembleClassifier`` with
float32 split thresholds (it never uses the double-precision ``*_as_tensor`` attributes of
ai.onnx.ml opset 3 for classifiers), so a double-precision graph is not available for this
estimator. The graph therefore takes **float32** input: scikit-learn's trees also cast their input
to float32 before comparing it with the thresholds, so both sides walk the same path through every
tree and only the summation of leaf probabilities differs in rounding. The parity check allows
exact label equality and ``PROBABILITY_TOLERANCE`` on the positive-class probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

ONNX_FILENAME = "model.onnx"
# Key of the ONNX facts (path inside the model, input, opset) in the MLmodel ``metadata``.
METADATA_KEY = "onnx"
INPUT_NAME = "input"
LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"
INPUT_DTYPE = "float32"
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


def onnx_session(model: bytes | str) -> Any:
    """An onnxruntime session tuned for small batches: one thread, sequential execution."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


class OnnxRunner:
    """One session's prediction call, with the per-call work done once.

    ``InferenceSession.run`` is a Python wrapper that checks the feed names and the graph-capture
    state on every call before it calls the C session; for one-row requests that wrapper costs
    about a fifth of the call. The runner calls the C session (``session._sess``) directly with
    prebuilt output names and run options, and falls back to the public ``run`` when a future
    onnxruntime no longer has that attribute. Feeds are always a float32 matrix under
    :data:`INPUT_NAME`, the only input the exported graph has, so the skipped checks cannot fail.
    """

    def __init__(self, session: Any) -> None:
        import onnxruntime as ort

        self._outputs = [LABEL_OUTPUT, PROBABILITIES_OUTPUT]
        native = getattr(session, "_sess", None)
        run = getattr(native, "run", None)
        if callable(run):
            options = ort.RunOptions()
            self._call: Any = lambda feeds: run(self._outputs, feeds, options)
        else:
            self._call = lambda feeds: session.run(self._outputs, feeds)

    def __call__(
        self, features: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Labels and positive-class probabilities of a ``(rows, features)`` matrix."""
        labels, probabilities = self._call({INPUT_NAME: features.astype(np.float32, order="C")})
        if labels.dtype != np.int64:
            labels = labels.astype(np.int64)
        return labels.reshape(-1), probabilities[:, 1].astype(np.float64)


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
