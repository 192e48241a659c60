"""OpenTelemetry: spans reach an OTLP/HTTP endpoint when configured, with route and status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.support.fakes import LinearPredictor
from tests.support.otlp import OtlpReceiver, otlp_receiver
from tests.support.serving import settings, split_body


@pytest.fixture
def collector() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


@pytest.mark.integration
def test_spans_are_exported_over_otlp_http(collector: OtlpReceiver) -> None:
    app = create_app(settings(otel_exporter_otlp_endpoint=collector.url), LinearPredictor())
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with TestClient(app) as client:
        assert client.post("/invocations", json=split_body(), headers={"traceparent": parent})
        assert client.get("/no/such/route").status_code == 404
    # Leaving the client ran the lifespan shutdown, which flushes the batch processor.
    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    spans = collector.spans()
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
