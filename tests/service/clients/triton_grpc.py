"""Triton's gRPC client in its default mode: health, metadata and infer (raw tensor contents).

argv[1]: a JSON file {"url": "127.0.0.1:PORT", "model": NAME, "rows": [[...], ...]}
stdout: what each call answered.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    client = grpcclient.InferenceServerClient(url=job["url"])
    rows = np.array(job["rows"], dtype=np.float64)
    metadata = client.get_model_metadata(job["model"], as_json=True)
    server = client.get_server_metadata(as_json=True)
    out: dict[str, Any] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(job["model"]),
        "server": server,
        "metadata": metadata,
        "infer": [],
    }
    for dtype in ("FP32", "FP64"):
        values = rows.astype(np.float32 if dtype == "FP32" else np.float64)
        for count in (1, len(rows)):
            tensor = grpcclient.InferInput("input-0", [count, rows.shape[1]], dtype)
            tensor.set_data_from_numpy(values[:count])
            result = client.infer(job["model"], [tensor])
            out["infer"].append(
                {
                    "dtype": dtype,
                    "rows": count,
                    "labels": result.as_numpy("predict").tolist(),
                    "probabilities": result.as_numpy("probability").tolist(),
                    "probability_dtype": str(result.as_numpy("probability").dtype),
                    "id": result.get_response(as_json=True).get("id"),
                }
            )
    # One input per column, the named form the metadata lists.
    per_column = []
    for j, tensor_meta in enumerate(metadata["inputs"]):
        tensor = grpcclient.InferInput(tensor_meta["name"], [len(rows)], tensor_meta["datatype"])
        tensor.set_data_from_numpy(rows[:, j].copy())
        per_column.append(tensor)
    result = client.infer(job["model"], per_column, request_id="cols")
    out["per_column"] = {
        "labels": result.as_numpy("predict").tolist(),
        "probabilities": result.as_numpy("probability").tolist(),
        "id": result.get_response(as_json=True).get("id"),
    }
    # A refusal: wrong width. The status and message are what the HTTP route answers.
    bad = grpcclient.InferInput("input-0", [1, rows.shape[1] - 1], "FP64")
    bad.set_data_from_numpy(rows[:1, :-1].copy())
    try:
        client.infer(job["model"], [bad])
        out["refusal"] = None
    except InferenceServerException as exc:
        out["refusal"] = {"status": exc.status(), "message": exc.message()}
    try:
        client.is_model_ready("no-such-model")
        out["unknown_model"] = None
    except InferenceServerException as exc:
        out["unknown_model"] = {"status": exc.status(), "message": exc.message()}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
