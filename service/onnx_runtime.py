"""The ONNX side of the model format, as serving reads it, and the session tuned for it.

Training (``training/onnx_export.py``) writes ``model.onnx`` with these names into every logged
model and records :data:`METADATA_KEY` in ``MLmodel``; :mod:`service.model` finds and runs it.
The graph takes one float32 matrix under :data:`INPUT_NAME` and answers :data:`LABEL_OUTPUT`
and :data:`PROBABILITIES_OUTPUT` (no ZipMap).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

ONNX_FILENAME = "model.onnx"
# Key of the ONNX facts (path inside the model, input, opset) in the MLmodel ``metadata``.
METADATA_KEY = "onnx"
INPUT_NAME = "input"
INPUT_DTYPE = "float32"
LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"


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
