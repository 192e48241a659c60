"""Triton's HTTP client in its default mode: binary input tensors (``set_data_from_numpy``).

argv[1]: a JSON file {"url": "127.0.0.1:PORT", "model": NAME, "rows": [[...], ...]}
stdout: one result per (dtype, rows, outputs) case: labels, probabilities and their dtype.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.http as httpclient


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    client = httpclient.InferenceServerClient(url=job["url"], network_timeout=30.0)
    rows = np.array(job["rows"], dtype=np.float64)
    results: list[dict[str, Any]] = []
    for dtype in ("FP32", "FP64"):
        values = rows.astype(np.float32 if dtype == "FP32" else np.float64)
        for count in (1, len(rows)):
            tensor = httpclient.InferInput("input-0", [count, rows.shape[1]], dtype)
            tensor.set_data_from_numpy(values[:count])  # binary_data=True: the default
            # None: the client asks for every output in binary (binary_data_output); the other
            # case names the outputs with binary_data=False, so they come back as JSON.
            for outputs in (None, "json"):
                requested = None
                if outputs == "json":
                    requested = [
                        httpclient.InferRequestedOutput(name, binary_data=False)
                        for name in ("predict", "probability")
                    ]
                result = client.infer(job["model"], [tensor], outputs=requested)
                probability = result.as_numpy("probability")
                response = result.get_response()
                results.append(
                    {
                        "dtype": dtype,
                        "rows": count,
                        "outputs": outputs or "binary",
                        "labels": result.as_numpy("predict").tolist(),
                        "probabilities": probability.tolist(),
                        "probability_dtype": str(probability.dtype),
                        "id": response.get("id"),
                        "binary": [
                            "binary_data_size" in (o.get("parameters") or {})
                            for o in response["outputs"]
                        ],
                    }
                )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
