"""Operations: the Prometheus ``/metrics`` route and the handlers of errors raised outside the
endpoints (unknown routes, wrong methods, unexpected exceptions), in the protocol of the path."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from service import errors
from service.dataplane import DataPlane
from service.errors import ApiError
from service.feedback import ID_MAX
from service.instrumentation import EXPOSITION_CONTENT_TYPE, Instruments
from service.protocol import openapi
from service.quality import LABELS_MAX
from service.routes.http import error_for_path, mlflow_error, route


def add_routes(app: FastAPI, instruments: Instruments) -> None:
    """Register ``/metrics`` and the app-wide error handlers."""

    @route(
        app,
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics (text format)",
        responses=openapi.responses(
            "mlflow",
            [],
            ok=openapi.ok(
                "The Prometheus text exposition", EXPOSITION_CONTENT_TYPE, {"type": "string"}
            ),
        ),
    )
    async def metrics_endpoint(request: Request) -> Response:
        return Response(instruments.exposition(), media_type=EXPOSITION_CONTENT_TYPE)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)


def add_document(app: FastAPI, plane: DataPlane, *, secured: bool) -> None:
    """``/openapi.json``: FastAPI's document of the routes plus the components they refer to.

    The column-shaped components follow the served model's signature, so the document is
    built again when the loaded schema changes (once per process in practice: the server
    binds after loading). ``secured`` declares the bearer scheme the inference routes use.
    """
    build = app.openapi
    built: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        schema = plane.schema
        if built.get("for") is not schema or "document" not in built:
            app.openapi_schema = None
            doc = build()
            components = doc.setdefault("components", {})
            info = plane.info if schema is not None else None
            components["schemas"] = openapi.model_components(
                schema,
                name="" if info is None else info.name,
                version="" if info is None else info.version,
                classes=plane.quality.classes,
                labels_max=LABELS_MAX,
                id_max=ID_MAX,
            )
            if secured:
                components["securitySchemes"] = dict(openapi.security_scheme())
            if "/feedback" in doc["paths"]:  # MODEL_API_FEEDBACK_STORE=off: no route, no link
                predictions = doc["paths"]["/invocations"]["post"]["responses"]["200"]
                predictions["links"] = openapi.FEEDBACK_LINK
            built.update({"for": schema, "document": doc})
        result: dict[str, Any] = built["document"]
        return result

    app.openapi = document  # type: ignore[method-assign]  # FastAPI's documented extension


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: errors.ENDPOINT_NOT_FOUND, 405: errors.BAD_REQUEST}
    error = ApiError(exc.status_code, codes.get(exc.status_code, errors.BAD_REQUEST), exc.detail)
    response = error_for_path(request.url.path, error)
    response.headers.update(exc.headers or {})
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    return mlflow_error(errors.bad_request("the request does not match the route"))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this handler, so uvicorn logs the traceback (once).
    error = ApiError(500, errors.INTERNAL_ERROR, "internal error; see the server log")
    return error_for_path(request.url.path, error)
