"""OpenTelemetry: spans reach an OTLP/HTTP endpoint when configured, with route and status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from service.app import create_app
from tests.support.fakes import LinearPredictor
from tests.support.serving import settings, split_body


class Collector(ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver (the documented protobuf request, 200 reply)."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.paths.append(self.path)
                collector.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.integration
def test_spans_are_exported_over_otlp_http(collector: Collector) -> None:
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    app = create_app(settings(otel_exporter_otlp_endpoint=endpoint), LinearPredictor())
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with TestClient(app) as client:
        assert client.post("/invocations", json=split_body(), headers={"traceparent": parent})
        assert client.get("/no/such/route").status_code == 404
    # Leaving the client ran the lifespan shutdown, which flushes the batch processor.
    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    spans = [
        span
        for request in collector.requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    server_spans = [s for s in spans if s.kind == s.SPAN_KIND_SERVER]
    attributes = [{a.key: a.value for a in s.attributes} for s in server_spans]
    invocation = next(a for a in attributes if a.get("http.route", None) is not None)
    assert invocation["http.route"].string_value == "/invocations"
    assert invocation["http.response.status_code"].int_value == 200
    traced = next(s for s in server_spans if s.trace_id.hex() == parent.split("-")[1])
    assert traced.parent_span_id.hex() == parent.split("-")[2]
    service = {
        a.key: a.value.string_value
        for a in collector.requests[0].resource_spans[0].resource.attributes
    }
    assert service["service.name"] == "model-api"
