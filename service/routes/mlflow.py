"""MLflow scoring protocol routes: ``/ping``, ``/health``, ``/version``, ``POST /invocations``.

Answers as ``mlflow models serve`` does; errors in MLflow's ``{"error_code", "message"}`` shape.
"""

from __future__ import annotations

import importlib.metadata

from fastapi import FastAPI, Request
from fastapi.responses import Response

from service.dataplane import DataPlane, not_ready
from service.errors import ApiError
from service.protocol import mlflow, openapi
from service.routes.http import (
    JSON,
    PREDICTION_ID_HEADER,
    Authorize,
    BodyLimits,
    decode,
    inference_route,
    mlflow_error,
    read_body,
    route,
)


def add_routes(app: FastAPI, plane: DataPlane, *, authorize: Authorize, limits: BodyLimits) -> None:
    """Register the MLflow scoring routes on ``app``; bodies over ``limits`` get 408/413."""
    version_text = mlflow_version()
    readiness = openapi.responses(
        "mlflow",
        [503],
        ok=openapi.ok("Ready: the body is a single newline labelled application/json, as MLflow"),
    )

    @route(
        app,
        "/ping",
        tags=["mlflow"],
        summary="Readiness (MLflow): 200 once the model is loaded",
        responses=readiness,
    )
    @route(app, "/health", tags=["mlflow"], summary="Same as /ping", responses=readiness)
    async def ping(request: Request) -> Response:
        if (error := plane.unavailable()) is not None:
            return mlflow_error(error)
        return Response(b"\n", media_type=JSON)

    @route(
        app,
        "/version",
        tags=["mlflow"],
        summary="The MLflow version, as mlflow models serve",
        responses=openapi.responses(
            "mlflow",
            [],
            ok=openapi.ok(
                "The bare version string (not JSON), labelled application/json as MLflow"
            ),
        ),
    )
    async def version(request: Request) -> Response:
        return Response(version_text.encode(), media_type=JSON)

    @inference_route(
        app,
        "/invocations",
        tags=["mlflow"],
        summary="Predict (MLflow scoring protocol): JSON, CSV or Parquet in, predictions out",
        body=openapi.INVOCATIONS_BODY,
        responses=openapi.responses(
            "mlflow",
            [400, 408, 413, 415, 500, 503],
            ok=openapi.ok(
                "The class label of each row",
                schema=openapi.PREDICTIONS,
                headers=openapi.PREDICTION_ID,
            ),
        ),
        authorize=authorize,
        family="mlflow",
    )
    async def invocations(request: Request) -> Response:
        try:
            authorize(request)
            schema = plane.schema
            if schema is None:
                raise not_ready()
            media = mlflow.media_type(request.headers.get("content-type"))
            body = await read_body(request, limits)
            matrix = await decode(
                len(body),
                lambda: mlflow.parse(
                    media,
                    body,
                    schema,
                    max_rows=limits.max_rows,
                    max_decoded_bytes=limits.max_decoded_bytes,
                ),
            )
        except ApiError as error:
            return mlflow_error(error)
        prediction = await plane.predict(matrix)
        return Response(
            mlflow.predictions_body(prediction.labels),
            media_type=JSON,
            headers={PREDICTION_ID_HEADER: prediction.id},
        )


def mlflow_version() -> str:
    """``GET /version``: the MLflow version if installed, as ``mlflow models serve`` answers."""
    for distribution in ("mlflow-skinny", "mlflow", "mlops-gitops"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"
