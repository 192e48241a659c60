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
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.errors import CLIENT_CLOSED
from service.logging import AccessLog, correlate
from service.predictor import ModelInfo
from service.tracing import TraceIds, parse_traceparent

UNMATCHED_ROUTE = "unmatched"
# The media type matching what ``generate_latest`` writes.
EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER_METHOD = "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID_HEADER = b"x-request-id"
_TRACEPARENT_HEADER = b"traceparent"
_PREDICTION_ID_HEADER = b"x-prediction-id"
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


_LABELS = ["route", "method", "status"]


class RequestMetrics(Collector):
    """Requests answered, their latency histogram and the requests in flight, in one collector.

    Series are ``{route, method, status}`` like a labelled ``Counter`` and ``Histogram`` would
    export them (same names, help, samples and order), but one request costs one lock, one dict
    lookup and one ``bisect`` instead of a ``labels()`` lookup, a lock per value and a Python
    walk over the buckets in prometheus_client. Only the event loop updates them.
    """

    def __init__(self, bounds: Iterable[float]) -> None:
        upper = [float(b) for b in bounds]
        if upper[-1] != float("inf"):
            upper.append(float("inf"))
        self._bounds = tuple(upper)
        self._bound_labels = [_bound_label(b) for b in upper]
        # (route, method, status) -> per-bucket counts (not cumulative) followed by the sum.
        self._series: dict[tuple[str, str, int], list[float]] = {}
        self._in_flight = 0
        self._lock = threading.Lock()

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def finished(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        with self._lock:
            self._in_flight -= 1
            cell = self._series.get(key)
            if cell is None:
                cell = self._series[key] = [0.0] * (len(self._bounds) + 1)
            cell[bisect.bisect_left(self._bounds, seconds)] += 1.0
            cell[-1] += seconds

    def _families(self) -> tuple[CounterMetricFamily, HistogramMetricFamily]:
        return (
            CounterMetricFamily(
                metrics.REQUESTS_TOTAL,
                "HTTP requests answered, by route template, method and status code.",
                labels=_LABELS,
            ),
            HistogramMetricFamily(
                metrics.REQUEST_DURATION_SECONDS,
                "Time from request start to the end of the response, in seconds.",
                labels=_LABELS,
            ),
        )

    def _in_flight_family(self, value: float | None) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            metrics.REQUESTS_IN_FLIGHT, "HTTP requests being handled right now.", value=value
        )

    def describe(self) -> Iterable[Metric]:
        yield from self._families()
        yield self._in_flight_family(None)

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            series = [(key, list(cell)) for key, cell in self._series.items()]
            in_flight = self._in_flight
        requests, duration = self._families()
        for (route, method, status), cell in series:
            labels = [route, method, str(status)]
            cumulative = list(itertools.accumulate(cell[:-1]))
            requests.add_metric(labels, cumulative[-1])
            duration.add_metric(
                labels, list(zip(self._bound_labels, cumulative, strict=True)), cell[-1]
            )
        yield requests
        yield duration
        yield self._in_flight_family(float(in_flight))


class Instruments:
    """All collectors of one app, on its own registry."""

    def __init__(self) -> None:
        # The ``*_created`` companion series double the series count and nobody queries them.
        # (A process-wide switch in prometheus_client; idempotent.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        # Registered first: the exposition keeps the order of the former Counter, Histogram
        # and Gauge objects these series replaced.
        self.requests = RequestMetrics(metrics.LATENCY_BUCKETS)
        self.registry.register(self.requests)
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
    """Counts, times and logs every HTTP request; sets the ``x-request-id`` response header.

    The access line carries the request's trace and span id: from FastAPI's server span when
    tracing is on (``span_link``, which also puts the request id on the span), else from the
    caller's W3C ``traceparent`` header, if any (its parent id is then the span id: the caller's
    span, the nearest one that exists). An unhandled exception leaves with the same ids, so the
    line that logs it has them too. Without tracing and without a ``traceparent`` the only extra
    work is looking at each request header once, which finding ``x-request-id`` did already.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        instruments: Instruments,
        access_log: AccessLog,
        span_link: Callable[[str], TraceIds | None] | None = None,
    ) -> None:
        self.app = app
        self.instruments = instruments
        self.access_log = access_log
        self.span_link = span_link

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id, traceparent = request_headers(scope)
        if self.span_link is not None:
            trace = self.span_link(request_id)
        elif traceparent is not None:
            trace = parse_traceparent(traceparent)
        else:
            trace = None
        status = 500
        prediction_id: str | None = None
        header = (_REQUEST_ID_HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, prediction_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                # Hook for the prediction id (not assigned yet): a route that answers with an
                # X-Prediction-ID header gets it onto the access line.
                for name, value in headers:
                    if name == _PREDICTION_ID_HEADER:
                        prediction_id = value.decode("latin-1")
                message["headers"] = [*headers, header]
            await send(message)

        requests = self.instruments.requests
        requests.started()
        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client hung up while a handler was still reading: nobody is waiting for an
            # answer. Counted as 499 (the client's doing), never as a server error.
            status = CLIENT_CLOSED
        except Exception as exc:
            fields = {"request_id": request_id}
            if trace is not None:
                fields["trace_id"], fields["span_id"] = trace
            correlate(exc, fields)
            raise
        finally:
            seconds = time.perf_counter() - start
            method = scope["method"]
            if method not in _METHODS:
                method = OTHER_METHOD
            route = route_label(scope)
            requests.finished(route, method, status, seconds)
            self.access_log.log(
                request_id=request_id,
                method=method,
                route=route,
                path=scope["path"],
                status=status,
                seconds=seconds,
                trace=trace,
                prediction_id=prediction_id,
            )


def request_headers(scope: Scope) -> tuple[str, bytes | None]:
    """The request id and the raw ``traceparent`` value, in one pass over the headers.

    The request id is the caller's ``x-request-id`` if it is short and plain, else a fresh one.
    ``traceparent`` is None when absent or repeated (W3C: more than one means none is valid).
    """
    given: bytes | None = None
    traceparent: bytes | None = None
    traceparents = 0
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER:
            if given is None:
                given = value
        elif name == _TRACEPARENT_HEADER:
            traceparent = value
            traceparents += 1
    if traceparents > 1:
        traceparent = None
    return request_id(given), traceparent


def request_id(given: bytes | None) -> str:
    """``given`` (a caller's request id) if it is short and plain, else a fresh random one."""
    if (
        given is not None
        and 0 < len(given) <= _REQUEST_ID_MAX
        and not given.translate(None, _REQUEST_ID_CHARS)
    ):
        return given.decode("ascii")
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


# Generated request ids: a random per-process prefix and a counter — unique without a
# random-number syscall per request.
_ID_PREFIX = os.urandom(4).hex()
_ID_COUNTER = itertools.count(1)
