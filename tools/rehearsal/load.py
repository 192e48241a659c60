"""A bounded, weighted load generator: ``rate`` requests/s, a fixed share to the canary.

Every request posts a small batch of real validation rows to ``/invocations`` (MLflow scoring
protocol, ``dataframe_split``). Request ``i`` goes to the canary when ``i`` falls in the
canary's share (e.g. every 10th for 10%), so both sides see the same mix of rows. In-flight
requests are capped by the worker pool; a tick that finds every worker busy is skipped and
counted, never queued, so a slow canary cannot make the generator grow without bound.

Given the rows' true ``labels``, the generator also plays the client that learns the truth
later: ``feedback_delay`` seconds after each answer it posts the batch's labels to
``POST /feedback`` of ``feedback_url`` (the stable: any replica joins), naming the answer's
``X-Prediction-ID``. ``shift`` multiplies columns of every row sent (input drift).
"""

from __future__ import annotations

import collections
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadStats:
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    feedback: Counter[int] = field(default_factory=Counter)  # POST /feedback answers by status

    def summary(self) -> str:
        parts = []
        for target in sorted(self.sent):
            codes = ", ".join(
                f"{code}x{n}" for (t, code), n in sorted(self.statuses.items()) if t == target
            )
            failed = self.failures[target]
            parts.append(
                f"{target}: {self.sent[target]} requests ({codes or 'no answers'}"
                + (f", {failed} transport errors" if failed else "")
                + ")"
            )
        if self.skipped:
            parts.append(f"{self.skipped} ticks skipped (all workers busy)")
        if self.feedback:
            codes = ", ".join(f"{code}x{n}" for code, n in sorted(self.feedback.items()))
            parts.append(f"feedback: {codes}")
        return "; ".join(parts) or "no requests"


def validation_rows() -> tuple[list[str], list[list[float]]]:
    """Columns and rows of the training code's validation split (the model's real inputs)."""
    columns, rows, _ = labelled_rows()
    return columns, rows


def labelled_rows(
    split: str = "validation",
) -> tuple[list[str], list[list[float]], list[int]]:
    """Columns, rows and true labels: the validation split (rows no model was trained on) or
    ``all`` (training and validation rows: the population the training distribution describes)."""
    import numpy as np

    from training.train import load_dataset

    data = load_dataset()
    frames, labels = [data.x_valid], [data.y_valid]
    if split == "all":
        frames, labels = [data.x_train, data.x_valid], [data.y_train, data.y_valid]
    rows = np.vstack([f.to_numpy(dtype=float) for f in frames]).tolist()
    truth = np.concatenate(labels).astype(int).tolist()
    return [str(c) for c in data.x_valid.columns], rows, truth


class LoadGenerator:
    def __init__(
        self,
        stable_url: str,
        canary_url: str | None,
        *,
        rate: float = 40.0,
        canary_share: float = 0.1,
        batch: int = 5,
        workers: int = 16,
        max_seconds: float = 600.0,
        columns: list[str],
        rows: list[list[float]],
        labels: list[int] | None = None,
        feedback_url: str | None = None,
        feedback_delay: float = 1.0,
        shift: dict[str, float] | None = None,
    ) -> None:
        if not rows:
            raise ValueError("the load generator needs at least one row")
        self.targets = {"stable": stable_url, "canary": canary_url}
        self.rate = rate
        self.every = round(1 / canary_share) if canary_url and canary_share > 0 else 0
        self.batch = batch
        self.workers = workers
        self.max_seconds = max_seconds
        self.columns = columns
        if shift:
            factors = [shift.get(name, 1.0) for name in columns]
            rows = [[v * f for v, f in zip(row, factors, strict=True)] for row in rows]
        self.rows = rows
        self.labels = labels
        self.feedback_url = feedback_url if labels is not None else None
        self.feedback_delay = feedback_delay
        # (due time, prediction id, true labels) in the order the answers came.
        self._feedback: collections.deque[tuple[float, str, list[int]]] = collections.deque()
        self._feedback_thread: threading.Thread | None = None
        self.stats = LoadStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._in_flight = 0

    def payload(self, i: int) -> dict[str, Any]:
        start = (i * self.batch) % len(self.rows)
        data = [self.rows[(start + k) % len(self.rows)] for k in range(self.batch)]
        return {"dataframe_split": {"columns": self.columns, "data": data}}

    def truth(self, i: int) -> list[int]:
        assert self.labels is not None
        start = (i * self.batch) % len(self.rows)
        return [self.labels[(start + k) % len(self.rows)] for k in range(self.batch)]

    def target_for(self, i: int) -> str:
        return "canary" if self.every and i % self.every == 0 else "stable"

    def start(self) -> LoadGenerator:
        self._thread = threading.Thread(target=self._loop, name="rehearsal-load", daemon=True)
        self._thread.start()
        if self.feedback_url is not None:
            self._feedback_thread = threading.Thread(
                target=self._feedback_loop, name="rehearsal-feedback", daemon=True
            )
            self._feedback_thread.start()
        return self

    def stop(self) -> LoadStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._feedback_thread is not None:
            self._feedback_thread.join(timeout=30)
        return self.stats

    def _feedback_loop(self) -> None:
        assert self.feedback_url is not None
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                if not self._feedback or self._feedback[0][0] > time.monotonic():
                    self._stop.wait(0.05)
                    continue
                _, prediction_id, truth = self._feedback.popleft()
                body = {"prediction_id": prediction_id, "labels": truth}
                try:
                    status = client.post(f"{self.feedback_url}/feedback", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                self.stats.feedback[status] += 1  # only this thread writes it

    def _loop(self) -> None:
        period = 1.0 / self.rate
        deadline = time.monotonic() + self.max_seconds
        limits = httpx.Limits(max_connections=self.workers, max_keepalive_connections=self.workers)
        with (
            httpx.Client(timeout=10.0, limits=limits) as client,
            ThreadPoolExecutor(self.workers, thread_name_prefix="rehearsal-load") as pool,
        ):
            i = 0
            next_tick = time.monotonic()
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self._lock:
                    busy = self._in_flight >= self.workers
                    if not busy:
                        self._in_flight += 1
                if busy:
                    self.stats.skipped += 1
                else:
                    pool.submit(self._send, client, i)
                i += 1
                next_tick += period
                self._stop.wait(max(0.0, next_tick - time.monotonic()))

    def _send(self, client: httpx.Client, i: int) -> None:
        target = self.target_for(i)
        sent = failed = False
        status: int | None = None
        try:
            url = self.targets[target]
            assert url is not None
            sent = True
            try:
                answer = client.post(f"{url}/invocations", json=self.payload(i))
                status = answer.status_code
                prediction_id = answer.headers.get("x-prediction-id")
                if self.feedback_url is not None and status == 200 and prediction_id:
                    due = time.monotonic() + self.feedback_delay
                    self._feedback.append((due, prediction_id, self.truth(i)))
            except httpx.HTTPError:
                failed = True
        finally:
            # The counters are shared by the worker threads: `+= 1` on them is not atomic.
            with self._lock:
                self._in_flight -= 1
                if sent:
                    self.stats.sent[target] += 1
                if failed:
                    self.stats.failures[target] += 1
                elif status is not None:
                    self.stats.statuses[(target, status)] += 1
