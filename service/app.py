"""The HTTP layer: ``create_app(settings, predictor)`` builds the FastAPI application.

Routes only speak HTTP: read the body (bounded), hand it to a parser from
:mod:`service.protocol`, call the predictor, and answer in the protocol's format. Nothing here is
created at import time.

Inference runs inline on the event loop for small batches: one ONNX Runtime call on a few rows
takes tens of microseconds, less than a hop to the thread pool and back. Batches above
:data:`INLINE_MAX_ROWS` go to the thread pool so a large request cannot stall health checks and
other requests for long; ONNX Runtime releases the GIL while it computes.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import numpy as np
import orjson
import starlette.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from service import errors
from service.auth import BearerAuth
from service.errors import ApiError
from service.instrumentation import (
    EXPOSITION_CONTENT_TYPE,
    Instruments,
    ObservabilityMiddleware,
)
from service.logging import AccessLog
from service.predictor import Prediction, Predictor
from service.protocol import mlflow, oip, openapi
from service.protocol.schema import InputSchema, Matrix
from service.settings import ServeSettings
from service.tracing import tracer_provider

INLINE_MAX_ROWS = 64
Endpoint = Callable[..., Coroutine[Any, Any, Response]]
JSON = "application/json"
_log = logging.getLogger("model_api")


class DirectRoute(APIRoute):
    """An APIRoute whose handler passes the Request (and path parameters) straight through.

    FastAPI still documents the route in OpenAPI, but skips per-request dependency solving and
    response serialization, which the inference endpoints do not use: they read the raw body
    themselves and return a finished Response. On one-row requests this is a large share of
    the per-request cost (see docs/SERVICE.md, Performance design). FastAPI documents custom
    ``route_class`` handlers as an extension point.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # Starlette's plain request/response adapter: FastAPI's adds two AsyncExitStacks per
        # request for dependencies with ``yield``, which these routes do not have.
        self.app = starlette.routing.request_response(self.get_route_handler())

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return handler


class ModelLoadError(Exception):
    """The model could not be loaded or failed its warm-up; the server must not start."""


class ModelState:
    """The predictor plus what becomes known once it is loaded (schema, version, readiness)."""

    def __init__(self, predictor: Predictor, instruments: Instruments, access_log: AccessLog):
        self.predictor = predictor
        self.instruments = instruments
        self.access_log = access_log
        # Set on SIGTERM (service.server): readiness answers 503 while requests are still served.
        self.draining = False
        # Set last by load(): the model is ready exactly when the schema is known.
        self.schema: InputSchema | None = None

    @property
    def ready(self) -> bool:
        return self.schema is not None

    def unavailable(self) -> ApiError | None:
        """Why the readiness endpoints answer 503 (not loaded, or draining), else None."""
        if not self.ready:
            return _not_ready()
        if self.draining:
            return _draining()
        return None

    def load(self, model_uri: str) -> None:
        """Load, check the signature, run one warm-up prediction, then mark ready."""
        if self.ready:
            return
        try:
            self.predictor.load()
            schema = InputSchema.from_columns(self.predictor.columns)
            warm_up = self.predictor.predict(np.zeros((1, schema.width)))
            if np.shape(warm_up.labels) != (1,) or np.shape(warm_up.probabilities) != (1,):
                raise ValueError(
                    "warm-up prediction returned arrays of the wrong shape: "
                    f"labels {np.shape(warm_up.labels)}, probabilities "
                    f"{np.shape(warm_up.probabilities)} for 1 row"
                )
        except Exception as exc:
            raise ModelLoadError(load_failure(model_uri, exc)) from exc
        info = self.predictor.info
        self.instruments.set_model(info)
        self.access_log.model_version = info.version
        self.schema = schema
        self.instruments.model_loaded.set(1)
        _log.info(
            "model ready",
            extra={"model_name": info.name, "model_version": info.version, "runtime": info.runtime},
        )


def load_failure(model_uri: str, exc: BaseException) -> str:
    """One line saying why the model could not be loaded (naming the URI once)."""
    reason = str(exc) or type(exc).__name__
    return reason if model_uri in reason else f"cannot load the model from {model_uri}: {reason}"


def model_state(app: FastAPI) -> ModelState:
    state = app.state.model
    assert isinstance(state, ModelState)
    return state


def _json(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON)


def _mlflow_error(error: ApiError) -> Response:
    headers = _error_headers(error)
    return Response(errors.mlflow_body(error), error.status, headers, media_type=JSON)


def _oip_error(error: ApiError) -> Response:
    headers = _error_headers(error)
    return Response(errors.oip_body(error), error.status, headers, media_type=JSON)


def _error_for_path(path: str, error: ApiError) -> Response:
    """``error`` in the protocol of the route family ``path`` belongs to."""
    return _oip_error(error) if path.startswith("/v2") else _mlflow_error(error)


def _error_headers(error: ApiError) -> dict[str, str] | None:
    if error.status == 401:
        return {"www-authenticate": "Bearer"}
    if error.status == 413:
        # The rest of the body stays unread: do not reuse the connection.
        return {"connection": "close"}
    return None


def _not_ready() -> ApiError:
    return ApiError(503, errors.TEMPORARILY_UNAVAILABLE, "the model is not loaded yet")


def _draining() -> ApiError:
    return ApiError(503, errors.TEMPORARILY_UNAVAILABLE, "shutting down")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes.

    ``Content-Length`` is checked before reading; chunked bodies are counted while they arrive.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise errors.bad_request("invalid Content-Length header")
        if int(declared) > limit:
            raise errors.body_too_large(limit)
    # Common case first: the whole body in one ASGI message.
    message = await request.receive()
    first: bytes = message.get("body", b"")
    if len(first) > limit:
        raise errors.body_too_large(limit)
    if not message.get("more_body", False) or message["type"] != "http.request":
        return first
    chunks = [first]
    size = len(first)
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _version_text() -> str:
    """``GET /version``: the MLflow version if installed, as ``mlflow models serve`` answers."""
    for distribution in ("mlflow-skinny", "mlflow", "mlops-gitops"):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


def create_app(settings: ServeSettings, predictor: Predictor) -> FastAPI:
    """Build the API around ``predictor``; its lifespan loads the model unless already loaded."""
    instruments = Instruments()
    access_log = AccessLog()
    state = ModelState(predictor, instruments, access_log)
    auth = BearerAuth(settings.token_file) if settings.token_file is not None else None
    tracing = tracer_provider(settings.otel_exporter_otlp_endpoint)
    limit = settings.max_body_bytes
    version_text = _version_text()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.load(settings.model_uri)
        yield
        if tracing is not None:
            tracing.shutdown()

    app = FastAPI(
        title="model-api",
        summary="MLflow scoring protocol and Open Inference Protocol v2 for one model",
        version=importlib.metadata.version("mlops-gitops"),
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans, only when an OTLP endpoint is configured; its
        # metrics and logs stay off (Prometheus and the JSON access log cover them).
        telemetry={
            "tracing": tracing is not None,
            "tracer_provider": tracing,
            "metrics": False,
            "logs": False,
            "auto_configure": False,
        },
    )
    app.state.model = state

    def authorize(request: Request) -> None:
        if auth is not None:
            header = request.headers.get("authorization")
            auth.check(None if header is None else header.encode("latin-1"))

    async def predict(matrix: Matrix) -> Prediction:
        if matrix.shape[0] <= INLINE_MAX_ROWS:
            prediction = predictor.predict(matrix)
        else:
            # abandon_on_cancel: when the graceful-shutdown timeout cancels the request, do not
            # wait for the computation (service.server then exits without it).
            prediction = await anyio.to_thread.run_sync(
                predictor.predict, matrix, abandon_on_cancel=True
            )
        instruments.observe_predictions(prediction.probabilities)
        return prediction

    # --- MLflow scoring protocol -------------------------------------------------------------

    @app.get("/ping", tags=["mlflow"], summary="Readiness (MLflow): 200 once the model is loaded")
    @app.get("/health", tags=["mlflow"], summary="Same as /ping")
    async def ping() -> Response:
        if (error := state.unavailable()) is not None:
            return _mlflow_error(error)
        return Response(b"\n", media_type=JSON)

    @app.get("/version", tags=["mlflow"], summary="The MLflow version, as mlflow models serve")
    async def version() -> Response:
        return Response(version_text.encode(), media_type=JSON)

    # The inference routes use DirectRoute (see its docstring) and are registered on the app's
    # own router (an included router would be one more level of matching per request).
    def inference(
        path: str, *, tags: list[str], summary: str, body: dict[str, Any]
    ) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            app.router.add_api_route(
                path,
                endpoint,
                methods=["POST"],
                tags=list(tags),
                summary=summary,
                openapi_extra={"requestBody": body},
                route_class_override=DirectRoute,
            )
            return endpoint

        return register

    @inference(
        "/invocations",
        tags=["mlflow"],
        summary="Predict (MLflow scoring protocol): JSON, CSV or Parquet in, predictions out",
        body=openapi.INVOCATIONS_BODY,
    )
    async def invocations(request: Request) -> Response:
        try:
            authorize(request)
            if state.schema is None:
                raise _not_ready()
            media = mlflow.media_type(request.headers.get("content-type"))
            body = await read_body(request, limit)
            matrix = mlflow.parse(media, body, state.schema)
        except ApiError as error:
            return _mlflow_error(error)
        prediction = await predict(matrix)
        return Response(mlflow.predictions_body(prediction.labels), media_type=JSON)

    # --- Open Inference Protocol v2 ------------------------------------------------------------

    def known_model(model_name: str, model_version: str | None = None) -> ModelState:
        if state.schema is None:
            raise _not_ready()
        info = predictor.info
        if model_name != info.name:
            raise ApiError(
                404, errors.RESOURCE_DOES_NOT_EXIST, f"unknown model {model_name[:80]!r}"
            )
        if model_version is not None and model_version != info.version:
            raise ApiError(
                404,
                errors.RESOURCE_DOES_NOT_EXIST,
                f"model {model_name!r} has no version {model_version[:40]!r} here "
                f"(serving {info.version})",
            )
        return state

    @app.get("/v2", tags=["v2"], summary="Server metadata")
    async def server_metadata() -> Response:
        return _json({"name": "model-api", "version": app.version, "extensions": []})

    @app.get("/v2/health/live", tags=["v2"], summary="Liveness: the process answers")
    async def live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready", tags=["v2"], summary="Readiness: the model is loaded")
    async def ready() -> Response:
        if (error := state.unavailable()) is not None:
            return _oip_error(error)
        return _json({"ready": True})

    @app.get("/v2/models/{model_name}", tags=["v2"], summary="Model metadata")
    @app.get("/v2/models/{model_name}/versions/{model_version}", tags=["v2"])
    async def model_metadata(model_name: str, model_version: str | None = None) -> Response:
        try:
            schema = known_model(model_name, model_version).schema
        except ApiError as error:
            return _oip_error(error)
        assert schema is not None
        info = predictor.info
        return _json(
            oip.metadata(name=info.name, version=info.version, platform=info.runtime, schema=schema)
        )

    @app.get("/v2/models/{model_name}/ready", tags=["v2"], summary="Model readiness")
    @app.get("/v2/models/{model_name}/versions/{model_version}/ready", tags=["v2"])
    async def model_ready(model_name: str, model_version: str | None = None) -> Response:
        try:
            known_model(model_name, model_version)
            if state.draining:
                raise _draining()
        except ApiError as error:
            return _oip_error(error)
        return _json({"name": model_name, "ready": True})

    @inference(
        "/v2/models/{model_name}/infer",
        tags=["v2"],
        summary="Predict (Open Inference Protocol v2)",
        body=openapi.INFER_BODY,
    )
    @inference(
        "/v2/models/{model_name}/versions/{model_version}/infer",
        tags=["v2"],
        summary="Predict (Open Inference Protocol v2), one model version",
        body=openapi.INFER_BODY,
    )
    async def infer(
        request: Request, model_name: str, model_version: str | None = None
    ) -> Response:
        try:
            authorize(request)
            schema = known_model(model_name, model_version).schema
            assert schema is not None
            content_type = request.headers.get("content-type")
            if (
                content_type is not None
                and mlflow.media_type(content_type) is not mlflow.Media.JSON
            ):
                raise errors.unsupported_media_type("the v2 inference API takes application/json")
            parsed = oip.parse_infer(await read_body(request, limit), schema)
        except ApiError as error:
            return _oip_error(error)
        prediction = await predict(parsed.matrix)
        info = predictor.info
        body = oip.infer_body(
            model_name=info.name,
            model_version=info.version,
            request_id=parsed.id,
            outputs=parsed.outputs,
            labels=prediction.labels,
            probabilities=prediction.probabilities,
        )
        return Response(body, media_type=JSON)

    # --- Operations ------------------------------------------------------------------------------

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text format)")
    async def metrics_endpoint() -> Response:
        return Response(instruments.exposition(), media_type=EXPOSITION_CONTENT_TYPE)

    # --- Errors outside the handlers ----------------------------------------------------------

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: errors.ENDPOINT_NOT_FOUND, 405: errors.BAD_REQUEST}
        error = ApiError(
            exc.status_code, codes.get(exc.status_code, errors.BAD_REQUEST), exc.detail
        )
        response = _error_for_path(request.url.path, error)
        response.headers.update(exc.headers or {})
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        return _mlflow_error(errors.bad_request("the request does not match the route"))

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this handler, so uvicorn logs the traceback (once).
        error = ApiError(500, errors.INTERNAL_ERROR, "internal error; see the server log")
        return _error_for_path(request.url.path, error)

    # Routing is a linear scan and FastAPI registers its docs routes first: put the two
    # inference routes at the front.
    hot = {"/invocations", "/v2/models/{model_name}/infer"}
    app.router.routes.sort(key=lambda route: getattr(route, "path", "") not in hot)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.add_middleware(ObservabilityMiddleware, instruments=instruments, access_log=access_log)
    return app
