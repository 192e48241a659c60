"""KServe's InferenceRESTClient with ``set_data_from_numpy`` (binary tensors, its default).

argv[1]: a JSON file {"base_url": "http://127.0.0.1:PORT", "model": NAME, "rows": [[...], ...]}
stdout: labels and probabilities per (dtype, rows).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def run(job: dict[str, Any]) -> list[dict[str, Any]]:
    # protocol="v2" selects the Open Inference Protocol (the client's default is KServe v1).
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    rows = np.array(job["rows"], dtype=np.float64)
    results = []
    try:
        for dtype in ("FP32", "FP64"):
            values = rows.astype(np.float32 if dtype == "FP32" else np.float64)
            for count in (1, len(rows)):
                tensor = InferInput("input-0", [count, rows.shape[1]], dtype)
                tensor.set_data_from_numpy(values[:count])  # binary_data=True: the default
                request = InferRequest(model_name=job["model"], infer_inputs=[tensor])
                response = await client.infer(job["base_url"], request, model_name=job["model"])
                outputs = {output.name: output.as_numpy() for output in response.outputs}
                results.append(
                    {
                        "dtype": dtype,
                        "rows": count,
                        "labels": outputs["predict"].tolist(),
                        "probabilities": outputs["probability"].tolist(),
                        "id": response.id,
                    }
                )
    finally:
        await client.close()
    return results


def main() -> None:
    json.dump(asyncio.run(run(json.loads(Path(sys.argv[1]).read_text()))), sys.stdout)


if __name__ == "__main__":
    main()
