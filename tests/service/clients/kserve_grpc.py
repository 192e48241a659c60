"""KServe's InferenceGRPCClient: health, readiness, and infer with raw and with typed contents.

``set_data_from_numpy`` (binary, its default) becomes ``raw_input_contents`` in ``to_grpc``;
``binary_data=False`` becomes typed ``contents`` (``fp32_contents`` / ``fp64_contents``).

argv[1]: a JSON file {"target": "127.0.0.1:PORT", "model": NAME, "rows": [[...], ...]}
stdout: {"live", "ready", "model_ready", "unknown_model", "results": [per dtype/rows/binary]}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from kserve import InferenceGRPCClient, InferInput, InferRequest


async def run(job: dict[str, Any]) -> dict[str, Any]:
    # retries=0: a refusal must come back as it is, not be retried.
    async with InferenceGRPCClient(job["target"], timeout=30, retries=0) as client:
        answer: dict[str, Any] = {
            "live": await client.is_server_live(),
            "ready": await client.is_server_ready(),
            "model_ready": await client.is_model_ready(job["model"]),
        }
        try:
            await client.is_model_ready("no-such-model")
            answer["unknown_model"] = "OK"
        except grpc.aio.AioRpcError as error:
            answer["unknown_model"] = error.code().name
        rows = np.array(job["rows"], dtype=np.float64)
        results = []
        for dtype in ("FP32", "FP64"):
            values = rows.astype(np.float32 if dtype == "FP32" else np.float64)
            for count in (1, len(rows)):
                for binary in (True, False):
                    tensor = InferInput("input-0", [count, rows.shape[1]], dtype)
                    tensor.set_data_from_numpy(values[:count], binary_data=binary)
                    request = InferRequest(model_name=job["model"], infer_inputs=[tensor])
                    response = await client.infer(request)
                    outputs = {output.name: output.as_numpy() for output in response.outputs}
                    results.append(
                        {
                            "dtype": dtype,
                            "rows": count,
                            "binary": binary,
                            "labels": outputs["predict"].tolist(),
                            "probabilities": outputs["probability"].tolist(),
                            "id": response.id,
                        }
                    )
        answer["results"] = results
    return answer


def main() -> None:
    json.dump(asyncio.run(run(json.loads(Path(sys.argv[1]).read_text()))), sys.stdout)


if __name__ == "__main__":
    main()
