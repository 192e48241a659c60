"""Rehearsal pieces that need no servers: fault injection, load split, CLI timing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from service.predictor import Column, ModelInfo, Prediction
from tools.errors import UserError
from tools.rehearsal.faults import FaultyPredictor, InjectedFault
from tools.rehearsal.load import LoadGenerator
from tools.rehearsal.scenarios import Timing


class ConstantPredictor:
    """Satisfies the Predictor protocol; the wrapper under test decides what fails."""

    def __init__(self) -> None:
        self.info = ModelInfo("m", "1", "champion", "run", "models:/m/1", "sklearn")
        self.columns: Sequence[Column] = [Column("x")]
        self.calls = 0

    def load(self) -> None:
        pass

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        self.calls += 1
        n = features.shape[0]
        return Prediction(np.zeros(n, dtype=np.int64), np.full(n, 0.5))


def test_error_fault_fails_every_twentieth_prediction() -> None:
    inner = ConstantPredictor()
    faulty = FaultyPredictor(inner, "errors", error_rate=0.05, latency=0.0)
    faulty.predict(np.zeros((1, 1)))  # the first one (warm-up) stays healthy
    failures = 0
    for _ in range(100):
        try:
            faulty.predict(np.zeros((1, 1)))
        except InjectedFault:
            failures += 1
    assert failures == 5
    assert faulty.info is inner.info and faulty.columns is inner.columns


def test_latency_fault_sleeps_before_predicting(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("tools.rehearsal.faults.time.sleep", slept.append)
    inner = ConstantPredictor()
    faulty = FaultyPredictor(inner, "latency", error_rate=0.0, latency=0.3)
    faulty.predict(np.zeros((1, 1)))
    faulty.predict(np.zeros((1, 1)))
    faulty.predict(np.zeros((1, 1)))
    assert slept == [0.3, 0.3]
    assert inner.calls == 3


def test_unknown_fault_is_rejected() -> None:
    with pytest.raises(ValueError, match="REHEARSAL_FAULT"):
        FaultyPredictor(ConstantPredictor(), "explode", 0.05, 0.3)


def test_load_split_and_payload() -> None:
    gen = LoadGenerator(
        "http://s", "http://c", canary_share=0.1, batch=2, columns=["a"], rows=[[1.0], [2.0], [3.0]]
    )
    targets = [gen.target_for(i) for i in range(100)]
    assert targets.count("canary") == 10
    assert gen.payload(1) == {"dataframe_split": {"columns": ["a"], "data": [[3.0], [1.0]]}}
    no_canary = LoadGenerator("http://s", None, canary_share=0.1, columns=["a"], rows=[[1.0]])
    assert {no_canary.target_for(i) for i in range(50)} == {"stable"}


def timing_from(**kw: object) -> Timing:
    base: dict[str, Any] = {"count": 3, "duration": "10s", "window": "10s", "warmup": 12.0}
    base.update(kw)
    return Timing.scaled(**base)


def test_rehearse_timing_from_options() -> None:
    timing = timing_from()
    assert (timing.count, timing.interval, timing.window) == (3, "5s", "10s")
    assert timing_from(count=5, duration="1m").interval == "15s"
    with pytest.raises(UserError):
        timing_from(duration="soon")
    with pytest.raises(UserError):
        timing_from(count=0)
