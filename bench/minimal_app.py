"""The ceiling of the HTTP stack: FastAPI on uvicorn, parse the request, return a constant.

bench/serve drives it with the same wrk script as the model servers. It reads the body, parses
the JSON and checks that it is a ``dataframe_split`` object with ``columns`` and ``data`` (what
every real server must do at least), then answers ``{"predictions": [0]}`` without a model.

With ``MINIMAL_GRPC_PORT`` set it is also the ceiling of the gRPC stack: a ``grpc.aio`` server on
uvicorn's event loop (as model-api runs its own) whose ``ModelInfer`` decodes the
``ModelInferRequest``, checks that it names an input, and answers a constant
``ModelInferResponse`` without a model.

    python -m uvicorn --app-dir bench minimal_app:app --port 8100 --no-access-log
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

_CONSTANT = orjson.dumps({"predictions": [0]})
_SERVICE = "inference.GRPCInferenceService"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    port = os.environ.get("MINIMAL_GRPC_PORT")
    if not port:
        yield
        return
    import grpc
    import grpc.aio

    from service.grpc import oip_pb2

    answer = oip_pb2.ModelInferResponse(model_name="minimal", model_version="1")
    answer.outputs.add(name="predict", datatype="INT64", shape=[1])
    answer.raw_output_contents.append(bytes(8))

    async def model_infer(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if not request.inputs:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no inputs")
        return answer

    handler = grpc.unary_unary_rpc_method_handler(
        model_infer,
        request_deserializer=oip_pb2.ModelInferRequest.FromString,
        response_serializer=oip_pb2.ModelInferResponse.SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(_SERVICE, {"ModelInfer": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{int(port)}")
    await server.start()
    try:
        yield
    finally:
        await server.stop(1.0)


app = FastAPI(lifespan=lifespan)


@app.post("/invocations")
async def invocations(request: Request) -> Response:
    try:
        payload = orjson.loads(await request.body())
        split = payload["dataframe_split"]
        if not isinstance(split["columns"], list) or not isinstance(split["data"], list):
            raise TypeError("columns and data must be lists")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        body = orjson.dumps({"error_code": "BAD_REQUEST", "message": str(exc)})
        return Response(body, status_code=400, media_type="application/json")
    return Response(_CONSTANT, media_type="application/json")


@app.get("/ping")
async def ping() -> Response:
    return Response(b"\n", media_type="application/json")
