"""A bounded, weighted load generator: ``rate`` requests/s, a fixed share to the canary.

Every request posts a small batch of real validation rows to ``/invocations`` (MLflow scoring
protocol, ``dataframe_split``). Request ``i`` goes to the canary when ``i`` falls in the
canary's share (e.g. every 10th for 10%), so both sides see the same mix of rows. In-flight
requests are capped by the worker pool; a tick that finds every worker busy is skipped and
counted, never queued, so a slow canary cannot make the generator grow without bound.
"""

from __future__ import annotations

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
        return "; ".join(parts) or "no requests"


def validation_rows() -> tuple[list[str], list[list[float]]]:
    """Columns and rows of the training code's validation split (the model's real inputs)."""
    from training.train import load_dataset

    frame = load_dataset().x_valid
    return [str(c) for c in frame.columns], frame.to_numpy(dtype=float).tolist()


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
        self.rows = rows
        self.stats = LoadStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._in_flight = 0

    def payload(self, i: int) -> dict[str, Any]:
        start = (i * self.batch) % len(self.rows)
        data = [self.rows[(start + k) % len(self.rows)] for k in range(self.batch)]
        return {"dataframe_split": {"columns": self.columns, "data": data}}

    def target_for(self, i: int) -> str:
        return "canary" if self.every and i % self.every == 0 else "stable"

    def start(self) -> LoadGenerator:
        self._thread = threading.Thread(target=self._loop, name="rehearsal-load", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> LoadStats:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return self.stats

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
                status = client.post(f"{url}/invocations", json=self.payload(i)).status_code
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
