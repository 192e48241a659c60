"""OpenTelemetry tracing, on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

FastAPI (0.16x) creates the HTTP server spans itself (W3C ``traceparent`` honoured, route and
status as attributes); this module only builds the private TracerProvider it reports to, with a
batching OTLP/HTTP exporter. When tracing is off nothing from the OpenTelemetry SDK is imported
and FastAPI's telemetry is switched off, so the request path pays nothing.
"""

from __future__ import annotations

import os
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

    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES (read by Resource.create) take precedence.
    default = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(default))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
