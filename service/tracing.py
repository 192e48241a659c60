"""OpenTelemetry tracing, on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

FastAPI (0.16x) creates the HTTP server spans itself (W3C ``traceparent`` honoured, route and
status as attributes); this module only builds the private TracerProvider it reports to, with a
batching OTLP/HTTP exporter. When tracing is off nothing from the OpenTelemetry SDK is imported
and FastAPI's telemetry is switched off, so the request path pays nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SERVICE_NAME = "model-api"


def tracer_provider(endpoint: str | None) -> TracerProvider | None:
    """A provider exporting to ``{endpoint}/v1/traces``, or None when no endpoint is set."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
