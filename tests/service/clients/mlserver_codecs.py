"""MLServer's own request builders against OIP v2 servers, over HTTP (JSON) and gRPC.

Runs with the interpreter of .venv-mlserver (MLServer cannot share the project's venv; see
tests/support/mlserver.py). Requests are built the way MLServer's documentation builds them:
``PandasCodec.encode_request(frame)`` (one input per column, request content type ``pd``) and
``NumpyRequestCodec.encode_request(array)`` (one ``[n, columns]`` tensor, content type ``np``),
sent as ``request.model_dump()`` JSON over HTTP and through MLServer's own gRPC converter.
Answers are parsed with MLServer's ``InferenceResponse`` and decoded with ``NumpyCodec``.

argv[1]: a JSON file {"servers": {NAME: {"http": URL, "grpc": "HOST:PORT"}}, "model": MODEL,
"columns": [...], "rows": [[...], ...], "outputs": {NAME: [output, ...]}}
stdout: per server, builder, transport and row count: the outputs, as MLServer decoded them.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
from mlserver.codecs import NumpyCodec, NumpyRequestCodec, PandasCodec
from mlserver.grpc import dataplane_pb2_grpc
from mlserver.grpc.converters import ModelInferRequestConverter, ModelInferResponseConverter
from mlserver.types import InferenceRequest, InferenceResponse, RequestOutput


def build(builder: str, frame: pd.DataFrame) -> InferenceRequest:
    if builder == "pandas":
        return PandasCodec.encode_request(frame)
    return NumpyRequestCodec.encode_request(frame.to_numpy(np.float64))


def over_http(url: str, model: str, request: InferenceRequest) -> InferenceResponse:
    body = json.dumps(request.model_dump()).encode()
    call = urllib.request.Request(
        f"{url}/v2/models/{model}/infer",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(call, timeout=30) as answer:
        return InferenceResponse.model_validate_json(answer.read())


def over_grpc(target: str, model: str, request: InferenceRequest) -> InferenceResponse:
    with grpc.insecure_channel(target) as channel:
        stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
        message = ModelInferRequestConverter.from_types(request, model_name=model)
        return ModelInferResponseConverter.to_types(stub.ModelInfer(message, timeout=30))


def decoded(response: InferenceResponse) -> dict[str, Any]:
    return {
        "id": response.id,
        "model_name": response.model_name,
        "outputs": {
            output.name: {
                "datatype": output.datatype,
                "shape": list(output.shape),
                "values": NumpyCodec.decode_output(output).reshape(-1).tolist(),
            }
            for output in response.outputs
        },
    }


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    frame = pd.DataFrame(job["rows"], columns=job["columns"], dtype=np.float64)
    results = []
    for server, where in job["servers"].items():
        for builder in ("pandas", "numpy"):
            for transport in ("http", "grpc"):
                for rows in (1, len(frame)):
                    # The builders' default request, and the same one naming the outputs to
                    # return (each server's probability output has its own name).
                    for outputs in (None, job["outputs"][server]):
                        request = build(builder, frame.head(rows))
                        if outputs is not None:
                            request.outputs = [RequestOutput(name=name) for name in outputs]
                            request.id = f"{builder}-{transport}-{rows}"
                        try:
                            if transport == "http":
                                response = over_http(where["http"], job["model"], request)
                            else:
                                response = over_grpc(where["grpc"], job["model"], request)
                            answer: dict[str, Any] = decoded(response)
                        except urllib.error.HTTPError as exc:
                            answer = {"error": exc.code, "body": exc.read().decode()[:500]}
                        except grpc.RpcError as exc:
                            answer = {"error": str(exc.code()), "body": exc.details()}
                        results.append(
                            {
                                "server": server,
                                "builder": builder,
                                "transport": transport,
                                "rows": rows,
                                "named_outputs": outputs is not None,
                                **answer,
                            }
                        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
