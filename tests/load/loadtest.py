"""Bounded HTTP load test of a running model API; checks the SLO thresholds.

    python tests/load/loadtest.py --url http://127.0.0.1:8000 --duration 20 --concurrency 16

``--concurrency`` workers share one httpx connection pool and POST one-row ``dataframe_split``
requests to ``/invocations`` back to back (rows cycle through tests/data/load/) until
``--duration`` seconds have passed or ``--max-requests`` were sent. It prints requests/s, latency
percentiles, status counts and the error rate, then checks the thresholds (the SLOs, the same as
in tests/load/k6-invocations.js): p95 latency < 500 ms and error rate < 0.1 %.

Exit codes: 0 thresholds met, 1 a threshold missed, 2 bad usage or unreadable inputs.
An error is any non-2xx answer, a timeout or a connection failure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROWS_FILE = Path(__file__).resolve().parents[1] / "data" / "load" / "breast_cancer_rows.json"
# The SLOs (also in k6-invocations.js and the alert rules): keep them in step.
P95_MS = 500.0
MAX_ERROR_RATE = 0.001


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    started: float = 0.0
    finished: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def load_bodies(rows_file: Path, rows_per_request: int) -> list[bytes]:
    data = json.loads(rows_file.read_text(encoding="utf-8"))
    columns, rows = data["columns"], data["data"]
    if not rows:
        raise ValueError(f"{rows_file} has no rows")
    bodies = []
    for start in range(0, len(rows), rows_per_request):
        chunk = (rows * rows_per_request)[start : start + rows_per_request]
        bodies.append(json.dumps({"dataframe_split": {"columns": columns, "data": chunk}}).encode())
    return bodies


async def worker(
    client: httpx.AsyncClient,
    url: str,
    bodies: itertools.cycle[bytes],
    deadline: float,
    budget: list[int],
    tally: Tally,
    headers: dict[str, str],
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        body = next(bodies)
        begin = time.perf_counter()
        try:
            response = await client.post(url, content=body, headers=headers)
            status = str(response.status_code)
            failed = not response.is_success
        except httpx.HTTPError as exc:
            status, failed = type(exc).__name__, True
        tally.latencies_ms.append((time.perf_counter() - begin) * 1000)
        tally.statuses[status] += 1
        tally.errors += failed


async def run_load(
    base_url: str,
    *,
    duration: float,
    concurrency: int,
    max_requests: int,
    bodies: list[bytes],
    timeout: float,
    token: str | None = None,
) -> Tally:
    url = base_url.rstrip("/") + "/invocations"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    tally = Tally()
    budget = [max_requests]
    cycle = itertools.cycle(bodies)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        tally.started = time.monotonic()
        deadline = tally.started + duration
        await asyncio.gather(
            *(
                worker(client, url, cycle, deadline, budget, tally, headers)
                for _ in range(concurrency)
            )
        )
        tally.finished = time.monotonic()
    return tally


def summarize(tally: Tally, p95_limit_ms: float, max_error_rate: float) -> dict[str, Any]:
    elapsed = max(tally.finished - tally.started, 1e-9)
    requests = tally.requests
    error_rate = tally.errors / requests if requests else 1.0
    p95 = percentile(tally.latencies_ms, 0.95)
    checks = {
        "p95_ms": {"value": p95, "limit": p95_limit_ms, "ok": requests > 0 and p95 < p95_limit_ms},
        "error_rate": {
            "value": error_rate,
            "limit": max_error_rate,
            "ok": requests > 0 and error_rate < max_error_rate,
        },
    }
    return {
        "requests": requests,
        "errors": tally.errors,
        "error_rate": error_rate,
        "duration_s": elapsed,
        "requests_per_s": requests / elapsed,
        "latency_ms": {
            "p50": percentile(tally.latencies_ms, 0.50),
            "p95": p95,
            "p99": percentile(tally.latencies_ms, 0.99),
            "max": max(tally.latencies_ms, default=math.nan),
        },
        "statuses": dict(sorted(tally.statuses.items())),
        "thresholds": checks,
        "passed": all(check["ok"] for check in checks.values()),
    }


def render(report: dict[str, Any]) -> str:
    latency = report["latency_ms"]
    statuses = ", ".join(f"{k}: {v}" for k, v in report["statuses"].items()) or "none"
    lines = [
        f"requests   {report['requests']} in {report['duration_s']:.1f} s "
        f"({report['requests_per_s']:.1f} req/s)",
        f"latency    p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms, max {latency['max']:.1f} ms",
        f"statuses   {statuses}",
        f"errors     {report['errors']} ({report['error_rate']:.3%})",
    ]
    for name, check in report["thresholds"].items():
        verdict = "ok" if check["ok"] else "MISSED"
        lines.append(f"threshold  {name} {check['value']:.4g} < {check['limit']:g}: {verdict}")
    lines.append("PASSED" if report["passed"] else "FAILED: a threshold was missed")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loadtest.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the API")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel requests (16)")
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="stop after this many requests"
    )
    parser.add_argument("--rows", type=int, default=1, help="rows per request (default 1)")
    parser.add_argument("--rows-file", type=Path, default=ROWS_FILE, help="columns + data JSON")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (s)")
    parser.add_argument("--token-file", type=Path, help="bearer token for a protected API")
    parser.add_argument("--p95-ms", type=float, default=P95_MS, help="p95 threshold (500)")
    parser.add_argument(
        "--max-error-rate", type=float, default=MAX_ERROR_RATE, help="threshold (0.001)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    if args.duration <= 0 or args.concurrency < 1 or args.rows < 1 or args.max_requests < 1:
        parser.error("--duration, --concurrency, --rows and --max-requests must be positive")
    try:
        bodies = load_bodies(args.rows_file, args.rows)
        token = args.token_file.read_text(encoding="utf-8").strip() if args.token_file else None
    except (OSError, ValueError, KeyError) as exc:
        print(f"loadtest: error: cannot read inputs: {exc}", file=sys.stderr)
        return 2

    tally = asyncio.run(
        run_load(
            args.url,
            duration=args.duration,
            concurrency=args.concurrency,
            max_requests=args.max_requests,
            bodies=bodies,
            timeout=args.timeout,
            token=token,
        )
    )
    report = summarize(tally, args.p95_ms, args.max_error_rate)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
