"""OpenTelemetry tracing, on only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, and the trace ids
of the access log either way.

FastAPI (0.16x) creates the HTTP server spans itself (W3C ``traceparent`` honoured, route and
status as attributes); this module builds the private TracerProvider it reports to, with a
batching OTLP/HTTP exporter. When tracing is off nothing from the OpenTelemetry SDK is imported
and FastAPI's telemetry is switched off, so the request path pays nothing.

The access log correlates with traces in both cases (docs/OBSERVABILITY.md): with tracing on it
takes the ids of FastAPI's server span (:func:`span_link`, which also tags the span with the
request id); with tracing off it reads the caller's ``traceparent`` header itself
(:func:`parse_traceparent`), so a caller's trace id still finds the request's log line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

SERVICE_NAME = "model-api"
# The span attribute that carries the request id (the access line's ``request_id``).
REQUEST_ID_ATTRIBUTE = "model_api.request_id"

TraceIds = tuple[str, str]
"""(trace id, span id) as lower-case hex, 32 and 16 characters: the W3C text form."""

# version, trace id, parent id, flags; a later version's extra fields start with a dash.
_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(?:-|\Z)")
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16
_TRACEPARENT_LENGTH = 55  # "00-" + 32 + "-" + 16 + "-" + 2


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


def parse_traceparent(value: bytes) -> TraceIds | None:
    """The trace id and parent id of a W3C Trace Context ``traceparent`` value, or None.

    ``version-traceid-parentid-flags``, lower-case hex only (W3C Trace Context, section 3.2):
    version ``ff`` and all-zero ids are invalid; version ``00`` is exactly 55 characters; a
    later version may append fields after a dash, and its first four fields are read as
    version 00's. Optional whitespace around the value is ignored. Invalid means "start a new
    trace", i.e. the access line carries no trace id.
    """
    value = value.strip(b" \t")
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, parent_id = match.groups()
    if version == b"00":
        if len(value) != _TRACEPARENT_LENGTH:
            return None
    elif version == b"ff":
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return trace_id.decode("ascii"), parent_id.decode("ascii")


def span_link() -> Callable[[str], TraceIds | None]:
    """A function that tags the current span with a request id and returns the span's ids.

    Called by the middleware inside FastAPI's server span (tracing on only): the span gets the
    ``model_api.request_id`` attribute, the access line gets the span's trace and span id.
    """
    from opentelemetry import trace

    get_current_span = trace.get_current_span

    def link(request_id: str) -> TraceIds | None:
        span = get_current_span()
        context = span.get_span_context()
        if not context.is_valid:
            return None
        if span.is_recording():
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        return f"{context.trace_id:032x}", f"{context.span_id:016x}"

    return link
