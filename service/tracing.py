"""OpenTelemetry tracing, on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

When it is off nothing from OpenTelemetry is imported and the request path pays nothing. When it
is on, each HTTP request becomes one SERVER span (W3C ``traceparent`` honoured) exported in
batches over OTLP/HTTP; the exporter reads the standard ``OTEL_*`` variables itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

SERVICE_NAME = "model-api"


class RequestTracer:
    """Starts one span per request on a private TracerProvider."""

    def __init__(self, endpoint: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        traces_url = endpoint.rstrip("/") + "/v1/traces"
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": SERVICE_NAME})
        )
        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
        self._tracer: Tracer = self.provider.get_tracer("service.tracing")

    @contextlib.contextmanager
    def request_span(self, scope: MutableMapping[str, Any]) -> Iterator[Span]:
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with self._tracer.start_as_current_span(
            f"{scope['method']} {scope['path'][:100]}",
            context=extract(carrier),
            kind=SpanKind.SERVER,
        ) as span:
            yield span

    @staticmethod
    def finish(span: Span, *, route: str, method: str, status: int) -> None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.request.method", method)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR))

    def shutdown(self) -> None:
        self.provider.shutdown()


def request_tracer(endpoint: str | None) -> RequestTracer | None:
    """A tracer when an OTLP endpoint is configured, else None (tracing off)."""
    if not endpoint:
        return None
    return RequestTracer(endpoint)
