"""What a row costs the served model: the same rows every call (as bench/serve sends) vs new rows.

bench/serve repeats one request body, so the model sees the same 100 rows on every call. A tree
ensemble's cost per row depends on how well the CPU predicts its branches, and a CPU learns a
small set of rows it meets again and again: the repeated rows cost less than traffic whose rows
are new. This script measures ``Predictor.predict`` (ONNX Runtime, one thread, as served) on the
model ``python -m training`` trains, per call size:

- ``repeated``: the first N validation rows, every call;
- ``new``: N rows taken in turn from 200,000 rows made from the validation split (each value
  times a random factor in [0.8, 1.2]), so no call repeats an earlier one's rows.

It also times the model calls of 16 one-row requests against one call on their 16 rows: what
predicting queued requests together (Triton's and MLServer's dynamic batching) saves.

Usage: python bench/model_rows.py [--repeat N]
Prints a Markdown block for docs/PERFORMANCE.md; writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import serve_bench as sb  # noqa: E402

SIZES = (1, 16, 100, 400, 1600)
POOL_ROWS = 200_000
# Rows predicted per timing (so every size does comparable work), and timings per figure.
ROWS_PER_TIMING = 32_000


def best_seconds(call: Callable[[int], object], calls: int, repeat: int) -> float:
    """The fastest of ``repeat`` timings of ``calls`` calls, per call (``call(i)``: call i)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for index in range(calls):
            call(index)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure, best kept (5)")
    args = parser.parse_args(argv)
    import numpy as np

    from service.model import load_predictor
    from training.train import load_dataset

    with tempfile.TemporaryDirectory(prefix="bench-model-rows-") as scratch:
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{Path(scratch) / 'mlflow.db'}",
            "PYTHONPATH": str(ROOT),
        }
        print("training the model into a temporary store ...", file=sys.stderr)
        sb.train(env)
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        predictor = load_predictor(sb.MODEL_URI)
        predictor.load()

    validation = load_dataset().x_valid.to_numpy(np.float64)
    rng = np.random.default_rng(0)
    picks = validation[rng.integers(0, len(validation), POOL_ROWS)]
    pool = np.ascontiguousarray(picks * rng.uniform(0.8, 1.2, picks.shape))
    predictor.predict(validation[:1])

    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `bench/model_rows.py` "
        f"({os.cpu_count()} CPUs, load average at start "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; best of {args.repeat}):",
        "",
        "| rows per call | repeated rows: us/call | us/row | new rows: us/call | us/row |",
        "|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        repeated = np.ascontiguousarray(np.resize(validation, (size, validation.shape[1])))
        calls = max(20, ROWS_PER_TIMING // size)
        fresh = [pool[(i * size) % (POOL_ROWS - size) :][:size] for i in range(calls)]
        same = best_seconds(lambda i, m=repeated: predictor.predict(m), calls, args.repeat)
        new = best_seconds(lambda i, m=fresh: predictor.predict(m[i]), calls, args.repeat)
        lines.append(
            f"| {size:,} | {same * 1e6:,.1f} | {same * 1e6 / size:.2f} "
            f"| {new * 1e6:,.1f} | {new * 1e6 / size:.2f} |"
        )
    calls = ROWS_PER_TIMING // 16
    singles = best_seconds(
        lambda i: [predictor.predict(pool[16 * i + k : 16 * i + k + 1]) for k in range(16)],
        calls,
        args.repeat,
    )
    together = best_seconds(
        lambda i: predictor.predict(pool[16 * i : 16 * i + 16]), calls, args.repeat
    )
    lines += [
        "",
        f"16 one-row requests, new rows: {singles * 1e6:,.1f} us as 16 calls, "
        f"{together * 1e6:,.1f} us as one call ({singles / together:.1f}x).",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
