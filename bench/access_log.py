"""Per-request cost of the observability middleware (metrics and the JSON access line), in process.

``ObservabilityMiddleware`` wraps an ASGI app that answers at once; requests arrive without and
with a W3C ``traceparent`` header, tracing off (the production default when no collector is
set). The access lines go to /dev/null. Times are the process's CPU time (best of REPEATS),
which other jobs on a shared machine disturb less than wall-clock time. Each tree is measured in
its own child process with that tree first on ``sys.path``, so ``--baseline`` (another checkout,
e.g. main before a change) and this tree are compared on the same machine in the same run,
interleaved.

Usage: python bench/access_log.py [--baseline DIR] [--requests N] [--no-write]
Rewrites the ``bench:access-log`` section of docs/PERFORMANCE.md unless --no-write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "PERFORMANCE.md"
START, END = "<!-- bench:access-log:start -->", "<!-- bench:access-log:end -->"
REPEATS = 7
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
# What a typical client (httpx, curl behind ingress-nginx) sends with a one-row request.
HEADERS = [
    (b"host", b"model-api.example.org"),
    (b"user-agent", b"python-httpx/0.28.1"),
    (b"accept", b"*/*"),
    (b"content-type", b"application/json"),
    (b"content-length", b"87"),
    (b"x-forwarded-for", b"10.0.0.1"),
]
CASES = {"no traceparent": HEADERS, "traceparent": [*HEADERS, (b"traceparent", TRACEPARENT)]}


def measure(requests: int) -> dict[str, float]:
    """Best-of-REPEATS microseconds per request through the middleware, per case."""
    import logging

    from service.instrumentation import Instruments, ObservabilityMiddleware
    from service.logging import AccessLog

    logging.getLogger("model_api.access").setLevel(logging.INFO)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the access lines

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"predictions":[1]}'})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    middleware = ObservabilityMiddleware(app, instruments=Instruments(), access_log=AccessLog())

    async def run(headers: list[tuple[bytes, bytes]]) -> float:
        scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": headers}
        best = float("inf")
        for _ in range(REPEATS):
            start = time.process_time()
            for _ in range(requests):
                await middleware(scope, receive, send)
            best = min(best, time.process_time() - start)
        return best / requests * 1e6

    results = {name: asyncio.run(run(headers)) for name, headers in CASES.items()}
    results.update(components(requests))
    return results


def components(requests: int) -> dict[str, float]:
    """The new pieces alone (best-of-REPEATS µs per call), when this tree has them: short
    loops, so less exposed to a shared machine than the whole-middleware numbers."""
    import timeit

    try:
        from service.instrumentation import request_headers
        from service.logging import AccessLog
        from service.tracing import parse_traceparent
    except ImportError:
        return {}
    access = AccessLog()
    fields: dict[str, Any] = {
        "request_id": "2475c1865c550aa3", "method": "POST", "route": "/invocations",
        "path": "/invocations", "status": 200, "seconds": 0.00017,
    }  # fmt: skip
    ids = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    calls = {
        "headers scan": lambda: request_headers({"headers": CASES["no traceparent"]}),
        "headers scan, traceparent": lambda: request_headers({"headers": CASES["traceparent"]}),
        "parse traceparent": lambda: parse_traceparent(TRACEPARENT),
        "access line": lambda: access.log(**fields),
        "access line with ids": lambda: access.log(**fields, trace=ids),
    }
    return {
        name: min(timeit.repeat(call, timer=time.process_time, number=requests, repeat=REPEATS))
        / requests
        * 1e6
        for name, call in calls.items()
    }


def child(tree: Path, requests: int) -> dict[str, float]:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, __file__, "--measure", "--requests", str(requests)],
        env=environment,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
        timeout=600,
    )
    measured: dict[str, float] = json.loads(result.stderr.strip().splitlines()[-1])
    return measured


def table(results: dict[str, dict[str, float]], requests: int) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Measured {when} with `bench/access_log.py` on {platform.processor() or 'x86_64'} "
        f"({os.cpu_count()} CPUs, shared; load average {load}), Python "
        f"{platform.python_version()}: {requests:,} in-process requests per repeat, best of "
        f"{REPEATS}, CPU time, trees interleaved. Tracing off; the access line is written to "
        "/dev/null.",
        "",
        "| tree | no traceparent | with traceparent |",
        "|---|---:|---:|",
    ]
    for tree, cases in results.items():
        lines.append(
            f"| {tree} | {cases['no traceparent']:.2f} µs | {cases['traceparent']:.2f} µs |"
        )
    parts = [(k, v) for k, v in results["this tree"].items() if k not in CASES]
    if parts:
        lines += ["", "Pieces of this tree alone:", "", "| call | time |", "|---|---:|"]
        lines += [f"| {name} | {value:.2f} µs |" for name, value in parts]
    return "\n".join(lines)


def write_section(text: str) -> None:
    from tools.files import write_atomic

    document = DOC.read_text(encoding="utf-8")
    if START not in document or END not in document:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers")
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    write_atomic(DOC, f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare against")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.requests)), file=sys.stderr)
        return 0
    trees = {"this tree": ROOT}
    if args.baseline is not None:
        commit = subprocess.run(
            ["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        trees = {f"baseline ({commit or args.baseline})": args.baseline.resolve(), **trees}
    results: dict[str, dict[str, float]] = {name: {} for name in trees}
    for _ in range(2):  # interleaved rounds; keep each case's best
        for name, tree in trees.items():
            for case, value in child(tree, args.requests).items():
                results[name][case] = min(results[name].get(case, value), value)
    text = table(results, args.requests)
    print(text)
    if not args.no_write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
