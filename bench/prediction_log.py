"""What the prediction log costs: model-api with the log on (SQLite) vs off, alternating runs.

bench/serve keeps the best of a few interleaved rounds per server; on a shared machine two runs
of it disagreed about the log by more than the 10% budget of issue #16. This script asks the
narrower question with a sturdier protocol: both servers (the same tree, one with
``MODEL_API_FEEDBACK_STORE=off``) run side by side, and ``wrk -t1 -c16`` alternates between them
(on, off, then off, on, ...) for ``--rounds`` rounds of ``--seconds`` each at 1 and 100 rows per
request. It reports the median req/s of each side and the server's CPU time per request
(``/proc/<pid>/stat``, all threads: the writer thread's work counts), which other jobs disturb
less than throughput.

``--tree DIR`` serves another checkout (e.g. main before a change); the trained model comes
from this tree's training package either way.

Usage: python bench/prediction_log.py [--tree DIR] [--rounds N] [--seconds S]
Prints a Markdown block for docs/PERFORMANCE.md ("Prediction log"); writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: the project and bench/serve's helpers (serve_bench.py) importable.
for _path in (ROOT, ROOT / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import serve_bench as sb  # noqa: E402

CONNECTIONS = 16
ROWS = (1, 100)
SIDES = ("on", "off")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/prediction_log.py", description=__doc__)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to serve (this one)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per side and size (5)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per run (6)")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    load_before = os.getloadavg()
    runs: dict[tuple[int, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-prediction-log-") as scratch:
        workdir = Path(scratch)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
            "MODEL_URI": sb.MODEL_URI,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
        }
        print("training the model into a temporary store ...", file=sys.stderr)
        sb.train(env)
        bodies = sb.write_bodies(workdir)
        with contextlib.ExitStack() as stack:
            servers = {}
            for side in SIDES:
                store = "off" if side == "off" else f"sqlite:///{workdir / 'feedback.sqlite'}"
                servers[side] = serve(tree, store, env, workdir, stack)
            for rows in ROWS:  # warm-up
                for side in SIDES:
                    sb.run_wrk(servers[side][1], bodies[("json", rows)], CONNECTIONS, 2.0)
            for round_ in range(args.rounds):
                order = SIDES if round_ % 2 == 0 else SIDES[::-1]
                for rows in ROWS:
                    for side in order:
                        pid, url = servers[side]
                        before = cpu_seconds(pid)
                        raw = sb.run_wrk(url, bodies[("json", rows)], CONNECTIONS, args.seconds)
                        cpu = cpu_seconds(pid) - before
                        rate = raw["requests"] / (raw["duration_us"] / 1e6)
                        runs.setdefault((rows, side), []).append((rate, cpu / raw["requests"]))
                        print(
                            f"round {round_ + 1}/{args.rounds} rows={rows} log {side}: "
                            f"{rate:,.0f} req/s, {cpu / raw['requests'] * 1e6:.0f} µs CPU/request",
                            file=sys.stderr,
                        )
    load_after = os.getloadavg()
    print(report(tree, args, runs, load_before, load_after))
    return 0


def serve(
    tree: Path, store: str, env: dict[str, str], workdir: Path, stack: contextlib.ExitStack
) -> tuple[int, str]:
    """Start ``model-api serve`` from ``tree`` with ``store``; its pid and /invocations URL."""
    port = sb.free_port()
    command = sb.server_command(sb.Case("model-api", 1, CONNECTIONS, 1), port)
    server_env = {**env, "PYTHONPATH": str(tree), "MODEL_API_FEEDBACK_STORE": store}
    with (workdir / f"server-{port}.log").open("ab") as sink:
        process = subprocess.Popen(
            command, env=server_env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    stack.callback(stop)
    sb.wait_ready(f"http://127.0.0.1:{port}/ping", process, timeout=120)
    return process.pid, f"http://127.0.0.1:{port}/invocations"


def report(
    tree: Path,
    args: argparse.Namespace,
    runs: dict[tuple[int, str], list[tuple[float, float]]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    revision = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when} with `bench/prediction_log.py --rounds {args.rounds} --seconds "
        f"{args.seconds:g}` serving {revision or tree.name} ({os.cpu_count()} CPUs, shared; "
        f"load average {' '.join(f'{x:.1f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.1f}' for x in load_after)} after). Medians of {args.rounds} "
        f"alternating {args.seconds:g} s runs of `wrk -t1 -c{CONNECTIONS}` on `/invocations`:",
        "",
        "| rows/request | log on req/s | log off req/s | on/off | CPU/request on | off |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for rows in ROWS:
        on, off = runs[(rows, "on")], runs[(rows, "off")]
        rate_on = statistics.median(r for r, _ in on)
        rate_off = statistics.median(r for r, _ in off)
        cpu_on = statistics.median(c for _, c in on) * 1e6
        cpu_off = statistics.median(c for _, c in off) * 1e6
        lines.append(
            f"| {rows} | {rate_on:,.0f} | {rate_off:,.0f} | {rate_on / rate_off:.0%} "
            f"| {cpu_on:.0f} µs | {cpu_off:.0f} µs |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
