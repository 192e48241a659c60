"""Prometheus collectors (names from :mod:`service.metrics`) and the request-observing middleware.

Each app owns a private ``CollectorRegistry`` so several apps can live in one test process. The
middleware is plain ASGI (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per
request) and also writes the access log line.
"""

from __future__ import annotations

import bisect
import itertools
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.logging import AccessLog
from service.predictor import ModelInfo

UNMATCHED_ROUTE = "unmatched"
# The media type matching what ``generate_latest`` writes.
EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER_METHOD = "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID_HEADER = b"x-request-id"
_FEW_ROWS = 8
_REQUEST_ID_MAX = 64
_REQUEST_ID_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:"


class ProbabilityHistogram(Collector):
    """Histogram of positive-class probabilities, updated per batch with numpy.

    A 100-row batch is one ``searchsorted`` + ``bincount`` instead of 100 ``observe`` calls; a
    few rows take a plain ``bisect`` per row, cheaper than numpy's per-call overhead.
    """

    def __init__(self, name: str, bounds: Iterable[float], model_version: str) -> None:
        self._name = name
        self._bound_list = tuple(float(b) for b in bounds)
        self._bounds = np.asarray(self._bound_list, dtype=np.float64)
        self._version = model_version
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, probabilities: npt.NDArray[np.float64]) -> None:
        if len(probabilities) <= _FEW_ROWS:
            values = probabilities.tolist()
            with self._lock:
                for value in values:
                    # bisect_left: a value equal to a bound counts in that bound's bucket ("le").
                    self._counts[bisect.bisect_left(self._bound_list, value)] += 1
                    self._sum += value
            return
        slots = np.searchsorted(self._bounds, probabilities, side="left")
        counts = np.bincount(slots, minlength=len(self._counts)).tolist()
        total = float(np.sum(probabilities))
        with self._lock:
            for slot, count in enumerate(counts):
                self._counts[slot] += count
            self._sum += total

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(
            self._name,
            "Predicted probability of the positive class, one observation per row.",
            labels=["model_version"],
        )

    def describe(self) -> Iterable[Metric]:
        yield self._family()

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            cumulative = list(itertools.accumulate(self._counts))
            total = self._sum
        family = self._family()
        pairs = zip(self._bound_list, cumulative[:-1], strict=True)
        buckets = [(_bound_label(b), float(c)) for b, c in pairs]
        buckets.append(("+Inf", float(cumulative[-1])))
        family.add_metric([self._version], buckets, total)
        yield family


class Instruments:
    """All collectors of one app, on its own registry."""

    def __init__(self) -> None:
        # The ``*_created`` companion series double the series count and nobody queries them.
        # (A process-wide switch in prometheus_client; idempotent.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.requests = Counter(
            metrics.REQUESTS_TOTAL,
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            metrics.REQUEST_DURATION_SECONDS,
            "Time from request start to the end of the response, in seconds.",
            ["route", "method", "status"],
            buckets=metrics.LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            metrics.REQUESTS_IN_FLIGHT,
            "HTTP requests being handled right now.",
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            metrics.MODEL_LOADED,
            "1 once the model is loaded and the warm-up prediction succeeded, else 0.",
            registry=self.registry,
        )
        self._predictions = Counter(
            metrics.PREDICTIONS_TOTAL,
            "Rows predicted (a 100-row batch adds 100).",
            ["model_version"],
            registry=self.registry,
        )
        self._model_info = Gauge(
            metrics.MODEL_INFO,
            "1 for the model being served; the labels say which one.",
            ["name", "version", "alias", "run_id"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._predicted: Any = None
        self._probability: ProbabilityHistogram | None = None

    def set_model(self, info: ModelInfo) -> None:
        """Called once the model is loaded: its labels become known."""
        self._model_info.labels(info.name, info.version, info.alias, info.run_id).set(1)
        self._predicted = self._predictions.labels(info.version)
        self._probability = ProbabilityHistogram(
            metrics.PREDICTION_PROBABILITY, metrics.PROBABILITY_BUCKETS, info.version
        )
        self.registry.register(self._probability)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            labels = (route, method, str(status))
            children = (self.requests.labels(*labels), self.duration.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_predictions(self, probabilities: npt.NDArray[np.float64]) -> None:
        if self._predicted is None or self._probability is None:
            raise RuntimeError("observe_predictions before set_model")
        self._predicted.inc(len(probabilities))
        self._probability.observe(probabilities)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _bound_label(bound: float) -> str:
    label: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return label


def route_label(scope: Scope) -> str:
    """The matched route's template (``/v2/models/{model_name}/infer``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class ObservabilityMiddleware:
    """Counts, times and logs every HTTP request; sets the ``x-request-id`` response header."""

    def __init__(self, app: ASGIApp, *, instruments: Instruments, access_log: AccessLog) -> None:
        self.app = app
        self.instruments = instruments
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _request_id(scope)
        status = 500
        header = (_REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        in_flight = self.instruments.in_flight
        in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            in_flight.dec()
            seconds = time.perf_counter() - start
            method = scope["method"]
            if method not in _METHODS:
                method = OTHER_METHOD
            route = route_label(scope)
            self.instruments.observe_request(route, method, status, seconds)
            self.access_log.log(
                request_id=request_id,
                method=method,
                route=route,
                path=scope["path"],
                status=status,
                seconds=seconds,
            )


def _request_id(scope: Scope) -> str:
    """The caller's ``x-request-id`` if it is short and plain, else a fresh random one."""
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER:
            if 0 < len(value) <= _REQUEST_ID_MAX and not value.translate(None, _REQUEST_ID_CHARS):
                return str(value.decode("ascii"))
            break
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


# Generated request ids: a random per-process prefix and a counter — unique without a
# random-number syscall per request.
_ID_PREFIX = os.urandom(4).hex()
_ID_COUNTER = itertools.count(1)
