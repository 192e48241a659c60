"""A closed-loop gRPC load generator for bench/serve: ModelInfer with raw tensors, like wrk.

    python bench/grpc_load.py --target 127.0.0.1:PORT --connections 16 --duration 5 BODY.bin

BODY.bin is a serialized ``ModelInferRequest``. Each of ``--connections`` callers has its own
channel (its own TCP connection, as each wrk connection is) and sends the next call as soon as
the previous one is answered. Prints one ``WRK_JSON {...}`` line with the keys bench/serve reads
from wrk (latencies in microseconds). Python on the same machine as the server: the client's own
CPU use lowers what it can measure, so the numbers are a floor for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import grpc
import grpc.aio

METHOD = "/inference.GRPCInferenceService/ModelInfer"


async def caller(
    target: str, body: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    # A local subchannel pool: this channel's connection is not shared with the other callers.
    options = [("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(
            METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        while (start := time.perf_counter()) < deadline:
            try:
                await call(body, timeout=10)
            except grpc.RpcError:
                errors[0] += 1
                continue
            latencies.append(time.perf_counter() - start)


async def run(target: str, body: bytes, connections: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    began = time.perf_counter()
    deadline = began + duration
    await asyncio.gather(
        *(caller(target, body, deadline, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - began
    latencies.sort()

    def percentile(share: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1e6

    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "p50_us": percentile(0.50),
        "p90_us": percentile(0.90),
        "p99_us": percentile(0.99),
        "max_us": latencies[-1] * 1e6 if latencies else 0.0,
        "status_errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/grpc_load.py", description=__doc__)
    parser.add_argument("--target", required=True, help="host:port of the gRPC listener")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("body", type=Path, help="a serialized ModelInferRequest")
    args = parser.parse_args()
    result = asyncio.run(run(args.target, args.body.read_bytes(), args.connections, args.duration))
    print(f"WRK_JSON {json.dumps(result)}")


if __name__ == "__main__":
    main()
