"""Test-only canary: the real ``model-api`` server whose model runtime misbehaves on purpose.

The production service has no fault switches. For a rehearsal the canary process is started
with ``python -m tools.rehearsal.faults``, which runs the real server (``service.server.run``,
the real ``create_app``) with a predictor factory that wraps the real model runtime:

- ``REHEARSAL_FAULT=errors``: one prediction in ``1/REHEARSAL_ERROR_RATE`` raises, so the
  app answers 500 and its own ``model_api_requests_total{status="500"}`` counts it;
- ``REHEARSAL_FAULT=latency``: every prediction sleeps ``REHEARSAL_LATENCY`` seconds first,
  which the app's own request-duration histogram measures.

Because the faults happen inside the app, the canary's ``/metrics`` reflect them exactly as a
broken model would in the cluster.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from service.predictor import Column, ModelInfo, Prediction, Predictor
from service.settings import ServeSettings

FAULTS = ("none", "errors", "latency")


class InjectedFault(RuntimeError):
    """Raised by the faulty predictor; the app turns it into a 500."""


class FaultyPredictor:
    def __init__(self, inner: Predictor, fault: str, error_rate: float, latency: float) -> None:
        if fault not in FAULTS:
            raise ValueError(f"REHEARSAL_FAULT must be one of {', '.join(FAULTS)}, not {fault!r}")
        self.inner = inner
        self.info: ModelInfo = inner.info
        self.columns: Sequence[Column] = inner.columns
        self.fault = fault
        self.every = max(1, round(1 / error_rate)) if error_rate > 0 else 0
        self.latency = latency
        self._calls = itertools.count(1)
        self._lock = threading.Lock()
        self._warm = False

    def load(self) -> None:
        self.inner.load()
        self.info = self.inner.info
        self.columns = self.inner.columns

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        if not self._warm:  # the first prediction (a warm-up, if any) stays healthy
            self._warm = True
            return self.inner.predict(features)
        if self.fault == "latency":
            time.sleep(self.latency)
        elif self.fault == "errors" and self.every:
            with self._lock:
                call = next(self._calls)
            # Calls 1, 21, 41, ...: the first fault comes at once, so the canary's 5xx
            # series exists from the start of the load, as it would for a broken release.
            if (call - 1) % self.every == 0:
                raise InjectedFault(f"injected fault on prediction {call}")
        return self.inner.predict(features)


def faulty_predictor(settings: ServeSettings) -> Predictor:
    """Predictor factory for ``service.server.run`` (``module:function`` form)."""
    from service.server import model_predictor

    return FaultyPredictor(
        model_predictor(settings),
        os.environ.get("REHEARSAL_FAULT", "none"),
        float(os.environ.get("REHEARSAL_ERROR_RATE", "0.05")),
        float(os.environ.get("REHEARSAL_LATENCY", "0.3")),
    )


def main() -> int:
    from service import server

    settings = ServeSettings()
    return server.run(settings, predictor_factory="tools.rehearsal.faults:faulty_predictor")


if __name__ == "__main__":
    sys.exit(main())
