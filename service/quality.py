"""Model quality in production: prediction ids, the feedback join, live accuracy and drift.

The data plane calls :meth:`Quality.observe` once per prediction request: it names the request
with a prediction id, queues it in the prediction log (:mod:`service.feedback`) and adds its
rows to the drift window (:mod:`service.drift`). ``POST /feedback`` calls :meth:`Quality.feedback`,
which joins the true labels with the logged prediction and counts, for the model version that
made the prediction, the labelled rows, the correct ones and the confusion matrix. The replica
that joins counts, so ``sum()`` over the pods is the fleet's figure; a second feedback for the
same prediction counts nothing.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge

from service import errors, metrics
from service.drift import DistributionError, DriftWindow, TrainingDistribution
from service.errors import ApiError
from service.feedback import ID_MAX, OFF, PredictionLog, StoreUnavailable, WrongLabelCount

_log = logging.getLogger("model_api")
DEFAULT_CLASSES = (0, 1)
LABELS_MAX = 100_000

# Prediction ids: a random per-process prefix (64 bits) and a counter — unique across replicas
# and restarts without a random-number syscall per request.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_prediction_id() -> str:
    return f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"


@dataclass(frozen=True)
class FeedbackResult:
    prediction_id: str
    rows: int
    counted: bool  # False: the prediction had its labels already; nothing counted again
    model_version: str

    def body(self) -> dict[str, Any]:
        return {
            "prediction_id": self.prediction_id,
            "rows": self.rows,
            "counted": self.counted,
            "model_version": self.model_version,
        }


@dataclass(frozen=True)
class QualitySettings:
    store: str
    retention_days: float
    queue_limit: int
    drift_window: int


class Quality:
    """The prediction log, the drift window and the feedback counters of one app."""

    def __init__(self, settings: QualitySettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self._registry = registry
        self._dropped = Counter(
            metrics.PREDICTION_LOG_DROPPED_TOTAL,
            "Predictions not written to the prediction log because its queue was full.",
            registry=registry,
        )
        self._feedback = Counter(
            metrics.FEEDBACK_TOTAL,
            "Predicted rows that received their true label (counted by the joining replica).",
            ["model_version"],
            registry=registry,
        )
        self._correct = Counter(
            metrics.FEEDBACK_CORRECT_TOTAL,
            "Labelled rows whose prediction was right.",
            ["model_version"],
            registry=registry,
        )
        self._confusion = Counter(
            metrics.FEEDBACK_CONFUSION_TOTAL,
            "Labelled rows by predicted and true label.",
            ["model_version", "predicted", "actual"],
            registry=registry,
        )
        self._training_accuracy = Gauge(
            metrics.TRAINING_ACCURACY,
            "Validation accuracy the served model version had at training time.",
            ["model_version"],
            registry=registry,
        )
        self.log: PredictionLog | None = None
        if settings.store != OFF:
            self.log = PredictionLog(
                settings.store,
                retention_seconds=settings.retention_days * 86400,
                queue_limit=settings.queue_limit,
                on_drop=self._dropped.inc,
            )
        self.classes: tuple[int, ...] = DEFAULT_CLASSES
        self._drift: DriftWindow | None = None
        self._version = ""

    def set_model(self, version: str, columns: Sequence[str], mlmodel: object) -> None:
        """Called once the model is loaded: its version and training distribution are known."""
        self._version = version
        raw = (mlmodel.get("metadata") or {}) if isinstance(mlmodel, dict) else {}
        stored = raw.get("training_distribution") if isinstance(raw, dict) else None
        if stored is None:
            _log.warning(
                "the model carries no training distribution: no input drift metrics",
                extra={"model_version": version},
            )
            return
        try:
            distribution = TrainingDistribution.from_metadata(stored)
        except DistributionError as exc:
            _log.warning("training distribution ignored", extra={"reason": str(exc)})
            return
        self.classes = distribution.classes
        if distribution.accuracy is not None:
            self._training_accuracy.labels(version).set(distribution.accuracy)
        self._drift = DriftWindow(distribution, columns, self.settings.drift_window)
        self._registry.register(self._drift)

    def start(self) -> None:
        if self.log is not None:
            self.log.start()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    # -- request path ------------------------------------------------------------------------

    def observe(self, matrix: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> str:
        """A new prediction id for this request; its labels logged, its rows in the window."""
        prediction_id = new_prediction_id()
        if self.log is not None:
            self.log.record(prediction_id, self._version, labels)
        if self._drift is not None:
            self._drift.observe(matrix)
        return prediction_id

    # -- feedback ----------------------------------------------------------------------------

    def check_labels(self, labels: object) -> list[int]:
        """The labels as ints; 400 naming the first one the model cannot predict."""
        if not isinstance(labels, list) or not labels:
            raise errors.bad_request("'labels' must be a non-empty list (one label per row)")
        if len(labels) > LABELS_MAX:
            raise errors.bad_request(f"'labels' holds more than {LABELS_MAX} labels")
        for index, label in enumerate(labels):
            if isinstance(label, bool) or not isinstance(label, int) or label not in self.classes:
                choices = ", ".join(str(c) for c in self.classes)
                raise errors.invalid_value(
                    f"labels[{index}] = {errors.quote(label)}: the model predicts only {choices}"
                )
        return labels

    async def feedback(self, prediction_id: object, labels: object) -> FeedbackResult:
        """Join true labels with a logged prediction; ApiError 400/404/503 when impossible."""
        if not isinstance(prediction_id, str) or not 0 < len(prediction_id) <= ID_MAX:
            raise errors.bad_request(
                f"'prediction_id' must be a string of 1 to {ID_MAX} characters"
            )
        checked = self.check_labels(labels)
        log = self.log
        if log is None:
            raise ApiError(
                503, errors.TEMPORARILY_UNAVAILABLE, "the prediction log is off on this server"
            )
        try:
            logged = await anyio.to_thread.run_sync(log.lookup, prediction_id)
            if logged is None:
                raise ApiError(
                    404,
                    errors.RESOURCE_DOES_NOT_EXIST,
                    f"unknown or expired prediction id {errors.quote(prediction_id)}",
                )
            joined = await anyio.to_thread.run_sync(log.join, logged, checked)
        except WrongLabelCount as exc:
            raise errors.invalid_value(str(exc)) from None
        except StoreUnavailable as exc:
            raise ApiError(503, errors.TEMPORARILY_UNAVAILABLE, str(exc)) from None
        except ApiError:
            raise
        except Exception as exc:
            _log.warning("feedback store error", extra={"reason": str(exc).splitlines()[0][:300]})
            raise ApiError(
                503, errors.TEMPORARILY_UNAVAILABLE, "the feedback store is unavailable"
            ) from None
        version = logged.model_version
        if joined.first:
            self.count(version, logged.predicted, checked)
        return FeedbackResult(prediction_id, len(checked), joined.first, version)

    def count(self, version: str, predicted: Sequence[int], actual: Sequence[int]) -> None:
        correct = sum(1 for p, a in zip(predicted, actual, strict=True) if p == a)
        self._feedback.labels(version).inc(len(actual))
        self._correct.labels(version).inc(correct)
        for (p, a), n in _pairs(predicted, actual).items():
            self._confusion.labels(version, str(p), str(a)).inc(n)


def _pairs(predicted: Sequence[int], actual: Sequence[int]) -> dict[tuple[int, int], int]:
    counts: dict[tuple[int, int], int] = {}
    for pair in zip(predicted, actual, strict=True):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
