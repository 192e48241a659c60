"""``create_app(settings, predictor)``: wire the data plane, the protocol routes and middleware.

Nothing here handles a request: :mod:`service.dataplane` owns the model state and prediction,
:mod:`service.routes` speaks HTTP (one module per protocol). Nothing is created at import time.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.routing import APIRoute

from service.auth import BearerAuth
from service.dataplane import DataPlane
from service.instrumentation import Instruments, ObservabilityMiddleware
from service.logging import AccessLog
from service.predictor import Predictor
from service.protocol import oip as protocol_oip
from service.quality import Quality, QualitySettings
from service.routes import feedback, mlflow, oip, ops
from service.routes.http import BodyLimits, InferenceShortcut, authorizer
from service.settings import ServeSettings
from service.tracing import SERVICE_NAME, span_link, tracer_provider

if TYPE_CHECKING:
    from service.grpc.server import InferenceService

# The inference routes: answered by InferenceShortcut, ahead of the router (whose linear scan
# meets FastAPI's docs routes first: these also go to the front of it).
HOT_PATHS = frozenset(
    {
        "/invocations",
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    }
)


def create_app(settings: ServeSettings, predictor: Predictor) -> FastAPI:
    """Build the API around ``predictor``; its lifespan loads the model unless already loaded."""
    instruments = Instruments()
    access_log = AccessLog()
    quality = Quality(
        QualitySettings(
            store=settings.feedback_store,
            retention_days=settings.feedback_retention_days,
            queue_limit=settings.prediction_log_queue,
            drift_window=settings.drift_window,
        ),
        instruments.registry,
    )
    plane = DataPlane(predictor, instruments, access_log, quality)
    auth = BearerAuth(settings.token_file) if settings.token_file is not None else None
    tracing = tracer_provider(settings.otel_exporter_otlp_endpoint)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        plane.load(settings.model_uri)
        quality.start()
        yield
        quality.close()
        if tracing is not None:
            tracing.shutdown()

    app = FastAPI(
        title=SERVICE_NAME,
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
    app.state.data_plane = plane

    authorize = authorizer(auth)
    limits = BodyLimits(
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout,
        max_rows=settings.max_rows,
        max_decoded_bytes=settings.max_decoded_bytes,
    )
    # The gRPC transport, when configured: the same data plane, auth and limits; service.server
    # runs its listener next to uvicorn's.
    app.state.grpc = None
    if settings.grpc_port is not None:
        from service.grpc.server import InferenceService  # grpc loads only when it serves

        app.state.grpc = InferenceService(
            plane,
            server_name=app.title,
            server_version=app.version,
            extensions=list(protocol_oip.EXTENSIONS),
            auth=auth,
            max_rows=settings.max_rows,
        )
    mlflow.add_routes(app, plane, authorize=authorize, limits=limits)
    oip.add_routes(app, plane, authorize=authorize, limits=limits)
    if quality.log is not None:  # MODEL_API_FEEDBACK_STORE=off: no /feedback route
        feedback.add_routes(app, quality, authorize=authorize, limits=limits)
    ops.add_routes(app, instruments)
    ops.add_document(app, plane, secured=authorize.required)
    app.router.routes.sort(key=lambda route: getattr(route, "path", "") not in HOT_PATHS)
    if tracing is None:
        # Added first, so it sits inside the observability middleware (added next). Not with
        # tracing: FastAPI's router names the route on its server span (``http.route``).
        hot = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path in HOT_PATHS]
        app.add_middleware(InferenceShortcut, routes=hot)
    app.add_middleware(
        ObservabilityMiddleware,
        instruments=instruments,
        access_log=access_log,
        # Inside FastAPI's server span: the access line takes its ids, the span the request id.
        span_link=span_link() if tracing is not None else None,
    )
    return app


def data_plane(app: FastAPI) -> DataPlane:
    """The data plane ``create_app`` wired into ``app`` (the server loads and drains it)."""
    plane = app.state.data_plane
    assert isinstance(plane, DataPlane)
    return plane


def grpc_service(app: FastAPI) -> InferenceService | None:
    """The gRPC service ``create_app`` wired for ``app``, if ``grpc_port`` is set."""
    service: InferenceService | None = app.state.grpc
    return service
