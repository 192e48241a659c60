"""An OTLP/HTTP trace receiver on 127.0.0.1: the stand-in for the OpenTelemetry collector.

It answers ``POST /v1/traces`` the way the OTLP/HTTP specification says (binary protobuf
``ExportTraceServiceRequest`` in, ``200`` with an empty ``ExportTraceServiceResponse`` out) and
keeps what it decoded, using the official protobuf classes of ``opentelemetry-proto``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.support.net import serving

MAX_BODY = 8 * 1024 * 1024  # far above one export batch; anything larger is refused


class OtlpReceiver(ThreadingHTTPServer):
    """Decoded export requests in arrival order; ``spans()`` flattens them."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY:
                    self.send_error(413)
                    return
                request = ExportTraceServiceRequest.FromString(self.rfile.read(length))
                with receiver._lock:
                    receiver.paths.append(self.path)
                    receiver.requests.append(request)
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list[Span]:
        with self._lock:
            return [
                span
                for request in self.requests
                for resource in request.resource_spans
                for scope in resource.scope_spans
                for span in scope.spans
            ]


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A running receiver, shut down on exit."""
    with serving(OtlpReceiver()) as server:
        yield server
