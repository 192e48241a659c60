"""Settings of the ``model-api serve`` process: one class, read from the environment.

Every variable is listed with its default in docs/SERVICE.md. Names carry the ``MODEL_API_``
prefix, except two that follow wider conventions: ``MODEL_URI`` (the issue's and MLflow's name)
and ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the OpenTelemetry standard variable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.registry import DEFAULT_MODEL_URI

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODEL_API_", extra="ignore", frozen=True, populate_by_name=True
    )

    model_uri: str = Field(
        default=DEFAULT_MODEL_URI,
        validation_alias="MODEL_URI",
        description="MLflow model URI (models:/name@alias, runs:/..., or a local model directory)",
    )
    host: str = Field(default="127.0.0.1", description="interface to bind; 0.0.0.0 in a container")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port")
    workers: int = Field(default=1, ge=1, le=64, description="server processes sharing the socket")
    grpc_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="TCP port of OIP v2 over gRPC (inference.GRPCInferenceService) on the same "
        "host; off when unset",
    )
    grpc_max_calls: int = Field(
        default=1000,
        ge=1,
        description="gRPC calls in progress at once, those still receiving their message "
        "included; more get RESOURCE_EXHAUSTED",
    )
    grpc_max_connection_age: float = Field(
        default=300.0,
        gt=0,
        description="seconds before a gRPC connection is asked to reconnect (GOAWAY); its calls "
        "then have MODEL_API_BODY_TIMEOUT seconds before it closes",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1, description="largest request body accepted; larger gets 413"
    )
    max_rows: int = Field(
        default=100_000,
        ge=1,
        description="most rows one request may hold after decoding (any format); more gets 413",
    )
    max_decoded_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="most bytes a compressed body (Parquet) may decode to; more gets 413",
    )
    max_head_bytes: int = Field(
        default=32 * 1024,
        ge=1024,
        description="request line plus headers, in bytes; more gets 431 and the connection closes",
    )
    max_headers: int = Field(
        default=100, ge=8, description="header fields per request; more gets 431"
    )
    head_timeout: float = Field(
        default=10.0,
        gt=0,
        description="seconds a connection may take to send a complete request head (from "
        "opening, or from the first byte of the next request); then 408 and close",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds a request body may take to arrive; then 408 and close",
    )
    graceful_timeout: float = Field(
        default=20.0, gt=0, description="seconds to finish in-flight requests after SIGTERM"
    )
    drain_seconds: float = Field(
        default=0.0,
        ge=0,
        description="after SIGTERM, keep serving this long while readiness says 503, so load "
        "balancers stop routing here before the listener closes (SIGINT skips it); 0 when a "
        "preStop hook already delays SIGTERM",
    )
    keepalive_timeout: float = Field(
        default=5.0, gt=0, description="seconds an idle keep-alive connection stays open"
    )
    token_file: Path | None = Field(
        default=None,
        description="file holding the bearer token for the inference routes; unset = open",
    )
    feedback_store: str = Field(
        default="sqlite:///.model-api/feedback.sqlite",
        description="SQLAlchemy URL of the prediction log that POST /feedback joins with "
        "(sqlite:///path or postgresql://user:pass@host/db); 'off' disables ids' storage and "
        "feedback",
    )
    feedback_retention_days: float = Field(
        default=30.0, gt=0, description="days a prediction stays joinable; older rows are deleted"
    )
    prediction_log_queue: int = Field(
        default=100_000,
        ge=1,
        description="predictions waiting to be written; beyond it they are dropped and counted",
    )
    drift_window: int = Field(
        default=1000, ge=10, description="last predicted rows the feature PSI is computed over"
    )
    log_level: LogLevel = Field(default="info", description="level of the JSON logs")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector URL; tracing is off when unset",
    )
