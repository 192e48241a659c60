"""Input drift: the Population Stability Index of each feature, live traffic against training.

Training stores, with every model version, the distribution of each input feature on the
training rows (:data:`METADATA_KEY` in the ``MLmodel`` metadata, written by training/train.py):
the decile edges of the feature and the share of training rows in each of the bins they make.
A bin holds the values ``edges[i-1] <= x < edges[i]`` (the first bin everything below
``edges[0]``, the last everything from ``edges[-1]`` up), the same rule on both sides.

The service keeps the last ``MODEL_API_DRIFT_WINDOW`` rows it predicted in a ring buffer and,
when Prometheus scrapes, computes for each feature

    PSI = sum over bins of (live share - training share) * ln(live share / training share)

with shares floored at :data:`SHARE_FLOOR` (an empty bin would otherwise be infinite). The rule
of thumb: below 0.1 no shift, 0.1-0.25 moderate, above 0.25 a shift worth a look. Nothing is
exported until the window is full: a PSI over a handful of rows is noise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service import metrics

METADATA_KEY = "training_distribution"
SHARE_FLOOR = 1e-4
DECILES = tuple(q / 10 for q in range(1, 10))


class DistributionError(ValueError):
    """The stored training distribution is malformed; the message says where."""


@dataclass(frozen=True)
class FeatureBins:
    """One feature's bin edges (ascending, no repeats) and the training share of each bin."""

    name: str
    edges: npt.NDArray[np.float64]
    shares: npt.NDArray[np.float64]  # len(edges) + 1 values summing to 1


@dataclass(frozen=True)
class TrainingDistribution:
    features: tuple[FeatureBins, ...]
    rows: int
    # Validation accuracy of the model version, for the accuracy alert's baseline.
    accuracy: float | None
    # The labels the model can predict (and so the only true labels feedback may carry).
    classes: tuple[int, ...]

    def to_metadata(self) -> dict[str, Any]:
        """The JSON/YAML form stored in the ``MLmodel`` metadata."""
        return {
            "bins": "deciles",
            "rows": self.rows,
            "accuracy": self.accuracy,
            "classes": list(self.classes),
            "features": [
                {"name": f.name, "edges": f.edges.tolist(), "shares": f.shares.tolist()}
                for f in self.features
            ],
        }

    @classmethod
    def from_metadata(cls, data: object) -> TrainingDistribution:
        """Parse :meth:`to_metadata`'s form; :class:`DistributionError` says what is wrong."""
        if not isinstance(data, Mapping):
            raise DistributionError(f"{METADATA_KEY} is not a mapping")
        raw_features = data.get("features")
        if not isinstance(raw_features, list) or not raw_features:
            raise DistributionError(f"{METADATA_KEY}.features is not a non-empty list")
        features = []
        for index, raw in enumerate(raw_features):
            where = f"{METADATA_KEY}.features[{index}]"
            if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
                raise DistributionError(f"{where} has no name")
            try:
                edges = np.asarray(raw.get("edges"), dtype=np.float64).reshape(-1)
                shares = np.asarray(raw.get("shares"), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise DistributionError(f"{where}: edges and shares must be numbers") from exc
            if len(shares) != len(edges) + 1:
                raise DistributionError(f"{where}: {len(edges)} edges need {len(edges) + 1} shares")
            if not (np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)):
                raise DistributionError(f"{where}: edges must be finite and strictly ascending")
            if np.any(shares < 0) or not np.isclose(shares.sum(), 1.0, atol=1e-6):
                raise DistributionError(f"{where}: shares must be >= 0 and sum to 1")
            features.append(FeatureBins(raw["name"], edges, shares))
        accuracy = data.get("accuracy")
        classes = data.get("classes") or [0, 1]
        if not isinstance(classes, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in classes
        ):
            raise DistributionError(f"{METADATA_KEY}.classes must be a list of integers")
        return cls(
            features=tuple(features),
            rows=int(data.get("rows") or 0),
            accuracy=float(accuracy) if isinstance(accuracy, int | float) else None,
            classes=tuple(classes),
        )


def bin_counts(edges: npt.NDArray[np.float64], values: npt.NDArray[np.float64]) -> Any:
    """How many ``values`` fall in each of the ``len(edges) + 1`` bins."""
    slots = np.searchsorted(edges, values, side="right")
    return np.bincount(slots, minlength=len(edges) + 1)


def fit_distribution(
    columns: Sequence[str],
    matrix: npt.NDArray[np.float64],
    *,
    accuracy: float | None = None,
    classes: Sequence[int] = (0, 1),
) -> TrainingDistribution:
    """Decile bins of every column of ``matrix`` (the training rows) and their shares.

    Tied deciles collapse into one edge, so a feature with few distinct values gets fewer bins.
    """
    features = []
    rows = matrix.shape[0]
    for index, name in enumerate(columns):
        values = matrix[:, index]
        edges = np.unique(np.quantile(values, DECILES))
        shares = bin_counts(edges, values) / rows
        features.append(FeatureBins(name, edges, shares.astype(np.float64)))
    return TrainingDistribution(
        features=tuple(features), rows=rows, accuracy=accuracy, classes=tuple(classes)
    )


def psi(expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> float:
    """Population Stability Index of two share vectors over the same bins."""
    e = np.maximum(expected, SHARE_FLOOR)
    a = np.maximum(actual, SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


class DriftWindow(Collector):
    """The last ``size`` predicted rows and, at scrape time, each feature's PSI.

    Only the event loop calls :meth:`observe` and :meth:`collect` (the ``/metrics`` route), so
    the ring buffer needs no lock. One request costs one slice assignment.
    """

    def __init__(
        self, distribution: TrainingDistribution, columns: Sequence[str], size: int
    ) -> None:
        position = {name: index for index, name in enumerate(columns)}
        self._features = [f for f in distribution.features if f.name in position]
        self._columns = [position[f.name] for f in self._features]
        self._size = size
        self._rows = np.zeros((size, len(columns)), dtype=np.float64)
        self._next = 0
        self._filled = 0

    def observe(self, matrix: npt.NDArray[np.float64]) -> None:
        rows = matrix.shape[0]
        if rows >= self._size:
            self._rows[:] = matrix[-self._size :]
            self._next, self._filled = 0, self._size
            return
        end = self._next + rows
        if end <= self._size:
            self._rows[self._next : end] = matrix
        else:
            split = self._size - self._next
            self._rows[self._next :] = matrix[:split]
            self._rows[: rows - split] = matrix[split:]
        self._next = end % self._size
        self._filled = min(self._size, self._filled + rows)

    def values(self) -> dict[str, float]:
        """Each feature's PSI over the window; empty until the window is full."""
        if self._filled < self._size:
            return {}
        result = {}
        for feature, column in zip(self._features, self._columns, strict=True):
            counts = bin_counts(feature.edges, self._rows[:, column])
            result[feature.name] = psi(feature.shares, counts / self._size)
        return result

    def describe(self) -> Iterable[Metric]:
        yield self._family()

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for name, value in self.values().items():
            family.add_metric([name], value)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            metrics.FEATURE_PSI,
            "Population Stability Index of the feature over the last MODEL_API_DRIFT_WINDOW "
            "rows against its training distribution.",
            labels=["feature"],
        )
