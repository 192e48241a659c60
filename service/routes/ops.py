"""Operations: the Prometheus ``/metrics`` route and the handlers of errors raised outside the
endpoints (unknown routes, wrong methods, unexpected exceptions), in the protocol of the path."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from service import errors
from service.errors import ApiError
from service.instrumentation import EXPOSITION_CONTENT_TYPE, Instruments
from service.routes.http import error_for_path, mlflow_error


def add_routes(app: FastAPI, instruments: Instruments) -> None:
    """Register ``/metrics`` and the app-wide error handlers."""

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text format)")
    async def metrics_endpoint() -> Response:
        return Response(instruments.exposition(), media_type=EXPOSITION_CONTENT_TYPE)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)


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
