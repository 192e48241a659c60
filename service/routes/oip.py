"""Open Inference Protocol v2 routes (KServe, MLServer, Triton): health, metadata, infer.

Infer takes JSON, or the binary tensor data extension (Triton's and KServe's clients send it by
default): an ``Inference-Header-Content-Length`` header, a JSON header of that many bytes, then
the raw tensors. Answers are JSON unless the request asks for binary outputs; then they are
``application/octet-stream`` with the same header. Errors in the protocol's ``{"error": ...}``
shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from service import errors
from service.dataplane import DataPlane
from service.errors import ApiError
from service.protocol import mlflow, oip, oip_binary, openapi
from service.routes.http import (
    JSON,
    PREDICTION_ID_HEADER,
    Authorize,
    BodyLimits,
    decode,
    inference_route,
    json_response,
    oip_error,
    read_body,
    route,
)

# What a model route answers for a model name and version; raises ApiError when it has none.
ModelAnswer = Callable[[str, str | None], Response]


def add_routes(app: FastAPI, plane: DataPlane, *, authorize: Authorize, limits: BodyLimits) -> None:
    """Register the v2 routes on ``app``; bodies over ``limits`` get 408/413.

    The server metadata names the server (the app's title and version), not the model.
    """
    server = orjson.dumps(
        {"name": app.title, "version": app.version, "extensions": list(oip.EXTENSIONS)}
    )
    live_body = orjson.dumps({"live": True})
    ready_body = orjson.dumps({"ready": True})

    def ok(description: str, schema: openapi.Schema) -> dict[int | str, object]:
        return openapi.responses("oip", [], ok=openapi.ok(description, schema=schema))

    @route(
        app,
        "/v2",
        tags=["v2"],
        summary="Server metadata",
        responses=ok("Server metadata", openapi.SERVER_METADATA),
    )
    async def server_metadata(request: Request) -> Response:
        return Response(server, media_type=JSON)

    @route(
        app,
        "/v2/health/live",
        tags=["v2"],
        summary="Liveness: the process answers",
        responses=ok("Live", openapi.LIVE),
    )
    async def live(request: Request) -> Response:
        return Response(live_body, media_type=JSON)

    @route(
        app,
        "/v2/health/ready",
        tags=["v2"],
        summary="Readiness: the model is loaded",
        responses=openapi.responses("oip", [503], ok=openapi.ok("Ready", schema=openapi.READY)),
    )
    async def ready(request: Request) -> Response:
        if (error := plane.unavailable()) is not None:
            return oip_error(error)
        return Response(ready_body, media_type=JSON)

    def model_route(
        suffix: str, summary: str, ok: openapi.Schema
    ) -> Callable[[ModelAnswer], ModelAnswer]:
        """Serve ``answer(model_name, model_version)`` at ``/v2/models/{model_name}<suffix>``
        and at the same path under ``/versions/{model_version}``; the :class:`ApiError` the
        model lookup raises (404 not our model or version, 503 not loaded) is the answer then.
        """
        responses = openapi.responses("oip", [404, 503], ok=ok)

        def register(answer: ModelAnswer) -> ModelAnswer:
            async def endpoint(
                request: Request, model_name: str, model_version: str | None = None
            ) -> Response:
                try:
                    return answer(model_name, model_version)
                except ApiError as error:
                    return oip_error(error)

            # FastAPI names the route, and derives its OpenAPI operationId, from this.
            endpoint.__name__ = endpoint.__qualname__ = answer.__name__
            versioned = "/v2/models/{model_name}/versions/{model_version}" + suffix
            for path, title in (
                (versioned, f"{summary}, one model version"),
                ("/v2/models/{model_name}" + suffix, summary),
            ):
                route(app, path, tags=["v2"], summary=title, responses=responses)(endpoint)
            return answer

        return register

    @model_route("", "Model metadata", openapi.ok("Model metadata", schema=openapi.MODEL_METADATA))
    def model_metadata(model_name: str, model_version: str | None) -> Response:
        schema = plane.model(model_name, model_version)
        info = plane.info
        return json_response(
            oip.metadata(name=info.name, version=info.version, platform=info.runtime, schema=schema)
        )

    @model_route(
        "/ready", "Model readiness", openapi.ok("The model is ready", schema=openapi.MODEL_READY)
    )
    def model_ready(model_name: str, model_version: str | None) -> Response:
        plane.model_ready(model_name, model_version)
        return json_response({"name": model_name, "ready": True})

    infer_responses = openapi.responses(
        "oip", [400, 404, 408, 413, 415, 500, 503], ok=openapi.INFER_OK
    )

    @inference_route(
        app,
        "/v2/models/{model_name}/infer",
        tags=["v2"],
        summary="Predict (Open Inference Protocol v2)",
        body=openapi.INFER_BODY,
        responses=infer_responses,
        authorize=authorize,
        family="oip",
    )
    @inference_route(
        app,
        "/v2/models/{model_name}/versions/{model_version}/infer",
        tags=["v2"],
        summary="Predict (Open Inference Protocol v2), one model version",
        body=openapi.INFER_BODY,
        responses=infer_responses,
        authorize=authorize,
        family="oip",
    )
    async def infer(
        request: Request, model_name: str, model_version: str | None = None
    ) -> Response:
        try:
            authorize(request)
            schema = plane.model(model_name, model_version)
            content_type, header_length = _infer_headers(request)
            if content_type is not None and content_type != JSON:
                _check_content_type(content_type)
            body = await read_body(request, limits)
            if header_length is None:
                parsed = await decode(len(body), lambda: oip.parse_infer(body, schema))
            else:
                parsed = await decode(
                    len(body), lambda: oip.parse_binary_infer(body, header_length, schema)
                )
            if parsed.matrix.shape[0] > limits.max_rows:
                raise errors.rows_too_many(parsed.matrix.shape[0], limits.max_rows)
        except ApiError as error:
            return oip_error(error)
        prediction = await plane.predict(parsed.matrix)
        info = plane.info
        if parsed.binary:
            body, json_length = oip.infer_binary_body(
                model_name=info.name,
                model_version=info.version,
                request=replace(parsed, id=parsed.id or prediction.id),
                labels=prediction.labels,
                probabilities=prediction.probabilities,
            )
            return Response(
                body,
                headers={
                    oip_binary.HEADER_LENGTH: str(json_length),
                    PREDICTION_ID_HEADER: prediction.id,
                },
                media_type=oip_binary.OCTET_STREAM,
            )
        body = oip.infer_body(
            model_name=info.name,
            model_version=info.version,
            # The client's id if it sent one, else the prediction id (one id per answer).
            request_id=parsed.id or prediction.id,
            outputs=parsed.outputs,
            labels=prediction.labels,
            probabilities=prediction.probabilities,
        )
        return Response(body, media_type=JSON, headers={PREDICTION_ID_HEADER: prediction.id})


_CONTENT_TYPE = b"content-type"
_HEADER_LENGTH = oip_binary.HEADER_LENGTH.encode()


def _infer_headers(request: Request) -> tuple[str | None, str | None]:
    """``Content-Type`` and ``Inference-Header-Content-Length``, in one pass over the headers.

    (Two ``request.headers.get`` calls would walk them twice on every JSON request too.)
    """
    content_type = header_length = None
    for name, value in request.scope["headers"]:
        if name == _CONTENT_TYPE:
            content_type = value.decode("latin-1")
        elif name == _HEADER_LENGTH:
            header_length = value.decode("latin-1")
    return content_type, header_length


def _check_content_type(content_type: str) -> None:
    """JSON (``charset=utf-8`` allowed) or octet-stream (binary tensors); else 415."""
    if content_type.split(";", 1)[0].strip().lower() == oip_binary.OCTET_STREAM:
        return
    try:
        media: mlflow.Media | None = mlflow.media_type(content_type)
    except ApiError:
        media = None
    if media is not mlflow.Media.JSON:
        raise errors.unsupported_media_type(
            "the v2 inference API takes application/json, or application/octet-stream with "
            f"binary tensors (the {oip_binary.HEADER_LENGTH} header giving the JSON length)"
        )
