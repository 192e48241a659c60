"""The data plane: model state, warm-up, readiness and prediction, shared by every protocol.

The split follows MLServer: endpoints (``service.routes.*``, later gRPC) parse a request with a
codec from :mod:`service.protocol`, call the data plane, and shape the answer; the data plane
calls the runtime (:class:`service.predictor.Predictor`). Nothing here knows HTTP: refusals are
:class:`service.errors.ApiError` (status + error code), which each protocol renders its own way.

Inference runs inline on the event loop for small batches: one ONNX Runtime call on a few
hundred rows takes well under a millisecond, less than a hop to the thread pool and back.
Batches above :data:`INLINE_MAX_ROWS` go to the thread pool so a large request cannot stall
health checks and other requests for long; ONNX Runtime releases the GIL while it computes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from service import errors, offload
from service.errors import ApiError
from service.instrumentation import Instruments
from service.logging import AccessLog
from service.predictor import ModelInfo, ModelLoadError, Prediction, Predictor
from service.protocol.schema import InputSchema, Matrix
from service.quality import Quality

# The served forest costs ~1 us per row in ONNX Runtime, so an inline batch holds the loop for
# at most ~0.3 ms. Handing a batch to a worker thread costs far more CPU than that (thread wake,
# loop wake-up, GIL hand-overs: a 100-row request cost ~750 us of server CPU in all through the
# pool and ~420 us inline, bench/serve's load on 2 cores).
INLINE_MAX_ROWS = 256
_log = logging.getLogger("model_api")


@dataclass(frozen=True)
class IdentifiedPrediction(Prediction):
    """A prediction and the id feedback names it by (``X-Prediction-ID``); one per request."""

    id: str


class DataPlane:
    """The predictor plus what becomes known once it is loaded (schema, version, readiness)."""

    def __init__(
        self,
        predictor: Predictor,
        instruments: Instruments,
        access_log: AccessLog,
        quality: Quality,
    ) -> None:
        self.predictor = predictor
        self.instruments = instruments
        self.access_log = access_log
        self.quality = quality
        # Set on SIGTERM (service.server): readiness answers 503 while requests are still served.
        self.draining = False
        # Set last by load(): the model is ready exactly when the schema is known.
        self.schema: InputSchema | None = None

    @property
    def ready(self) -> bool:
        return self.schema is not None

    @property
    def info(self) -> ModelInfo:
        return self.predictor.info

    def unavailable(self) -> ApiError | None:
        """Why readiness is refused (not loaded, or draining), else None."""
        if not self.ready:
            return not_ready()
        if self.draining:
            return draining()
        return None

    def load(self, model_uri: str) -> None:
        """Load the runtime, check the signature, warm up with one prediction, then mark ready.

        The one warm-up of the process happens here; a second call does nothing.
        Raises :class:`ModelLoadError` naming ``model_uri`` and the reason.
        """
        if self.ready:
            return
        try:
            self.predictor.load()
            schema = InputSchema.from_columns(self.predictor.columns)
            warm_up = self.predictor.predict(np.zeros((1, schema.width)))
            if np.shape(warm_up.labels) != (1,) or np.shape(warm_up.probabilities) != (1,):
                raise ValueError(
                    "warm-up prediction returned arrays of the wrong shape: "
                    f"labels {np.shape(warm_up.labels)}, probabilities "
                    f"{np.shape(warm_up.probabilities)} for 1 row"
                )
            if not np.all(np.isfinite(warm_up.probabilities)):
                raise ValueError("warm-up prediction returned a non-finite probability")
        except Exception as exc:
            raise ModelLoadError(load_failure(model_uri, exc)) from exc
        info = self.predictor.info
        self.instruments.set_model(info)
        self.access_log.model_version = info.version
        # The training distribution and accuracy travel in the MLmodel metadata (optional: a
        # predictor without ``mlmodel`` simply exports no drift metrics).
        columns = [column.name for column in self.predictor.columns]
        self.quality.set_model(info.version, columns, getattr(self.predictor, "mlmodel", None))
        self.schema = schema
        self.instruments.model_loaded.set(1)
        _log.info(
            "model ready",
            extra={"model_name": info.name, "model_version": info.version, "runtime": info.runtime},
        )

    def model(self, name: str, version: str | None = None) -> InputSchema:
        """The input schema of model ``name`` (at ``version``); 503 before load, 404 if not ours."""
        schema = self.schema
        if schema is None:
            raise not_ready()
        info = self.predictor.info
        if name != info.name:
            raise ApiError(404, errors.RESOURCE_DOES_NOT_EXIST, f"unknown model {name[:80]!r}")
        if version is not None and version != info.version:
            raise ApiError(
                404,
                errors.RESOURCE_DOES_NOT_EXIST,
                f"model {name!r} has no version {version[:40]!r} here (serving {info.version})",
            )
        return schema

    def model_ready(self, name: str, version: str | None = None) -> None:
        """Raise unless model ``name`` (at ``version``) is served and not draining."""
        self.model(name, version)
        if self.draining:
            raise draining()

    async def predict(self, matrix: Matrix) -> IdentifiedPrediction:
        """Predict a matrix already validated against :attr:`schema`, count it, and name it:
        the answer carries the prediction id under which the labels were logged."""
        if matrix.shape[0] <= INLINE_MAX_ROWS:
            prediction = self.predictor.predict(matrix)
        else:
            # When the graceful-shutdown timeout cancels the request, it does not wait for the
            # computation (service.server then exits without it).
            prediction = await offload.run(lambda: self.predictor.predict(matrix))
        probabilities = prediction.probabilities
        # Probabilities lie in [0, 1], so the sum is finite unless one of them is not (a model
        # overflowing on extreme inputs): that is a model failure (500), never a null in a
        # tensor labelled FP32. One reduction, well under a microsecond.
        if not np.isfinite(probabilities.sum()):
            row = int(np.argmax(~np.isfinite(probabilities)))
            raise RuntimeError(f"the model returned a non-finite probability for row {row}")
        self.instruments.observe_predictions(probabilities)
        prediction_id = self.quality.observe(matrix, prediction.labels)
        return IdentifiedPrediction(prediction.labels, probabilities, prediction_id)


def load_failure(model_uri: str, exc: BaseException) -> str:
    """One line saying why the model could not be loaded (naming the URI once)."""
    reason = str(exc) or type(exc).__name__
    return reason if model_uri in reason else f"cannot load the model from {model_uri}: {reason}"


def not_ready() -> ApiError:
    return ApiError(503, errors.TEMPORARILY_UNAVAILABLE, "the model is not loaded yet")


def draining() -> ApiError:
    return ApiError(503, errors.TEMPORARILY_UNAVAILABLE, "shutting down")
