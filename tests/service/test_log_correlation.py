"""Access lines and exception lines carry the request's W3C trace id, and spans the request id.

With tracing on the ids are the server span's; with tracing off they come from the caller's
``traceparent`` header (parsed by the W3C Trace Context rules); without either the access line
is what it always was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from service.instrumentation import Instruments, ObservabilityMiddleware
from service.logging import AccessLog, JsonFormatter, correlate
from service.tracing import REQUEST_ID_ATTRIBUTE, parse_traceparent
from tests.support.otlp import otlp_receiver
from tests.support.serving import Server, split_body, start_server
from tests.support.trained_model import trained_store
from training.train import load_dataset

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TRACEPARENT, (TRACE, PARENT)),
        (f"00-{TRACE}-{PARENT}-00", (TRACE, PARENT)),  # not sampled: still the same trace
        (f" \t{TRACEPARENT} ", (TRACE, PARENT)),  # optional whitespace around the value
        (f"cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like", (TRACE, PARENT)),
        (f"cc-{TRACE}-{PARENT}-01", (TRACE, PARENT)),
        (f"cc-{TRACE}-{PARENT}-01.future", None),  # a later field must follow a dash
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 is exactly 55 characters
        (f"ff-{TRACE}-{PARENT}-01", None),  # version ff is forbidden
        (f"00-{TRACE.upper()}-{PARENT}-01", None),  # lower-case hex only
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE}-{PARENT}-0g", None),
        (f"0x-{TRACE}-{PARENT}-01", None),
        (f"00_{TRACE}-{PARENT}-01", None),
        (f"00-{TRACE[:-1]}-{PARENT}-01", None),
        (f"00-{TRACE}-{PARENT}", None),
        ("", None),
        ("\x00" * 55, None),
    ],
)
def test_parse_traceparent(value: str, expected: tuple[str, str] | None) -> None:
    assert parse_traceparent(value.encode("latin-1")) == expected


def _access_lines(out: str) -> list[dict[str, Any]]:
    lines = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "model_api.access"]


@pytest.fixture
def access_info() -> Iterator[None]:
    logger = logging.getLogger("model_api.access")
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(logging.NOTSET)


@pytest.mark.usefixtures("access_info")
def test_tracing_off_takes_the_ids_from_the_callers_traceparent(
    client: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    client.post("/invocations", json=split_body(), headers={"traceparent": TRACEPARENT})
    client.get("/ping")
    client.get("/ping", headers={"traceparent": f"00-{TRACE.upper()}-{PARENT}-01"})
    client.get("/ping", headers=[("traceparent", TRACEPARENT), ("traceparent", TRACEPARENT)])
    traced, plain, invalid, repeated = _access_lines(capfd.readouterr().out)
    assert (traced["trace_id"], traced["span_id"]) == (TRACE, PARENT)
    assert traced["route"] == "/invocations" and traced["status"] == 200
    # No trace, an invalid one, or two traceparent headers (W3C: none is valid): no ids at all.
    for line in (plain, invalid, repeated):
        assert "trace_id" not in line and "span_id" not in line
        assert line["route"] == "/ping"


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    headers = [(b"content-type", b"text/plain")]
    if scope["path"] == "/predict":
        headers.append((b"x-prediction-id", b"pred-42"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def _middleware() -> ObservabilityMiddleware:
    return ObservabilityMiddleware(_answer, instruments=Instruments(), access_log=AccessLog())


@pytest.mark.usefixtures("access_info")
def test_a_prediction_id_header_reaches_the_access_line(
    capfd: pytest.CaptureFixture[str],
) -> None:
    capfd.readouterr()
    client = TestClient(_middleware())  # no `with`: the bare ASGI app has no lifespan
    assert client.get("/predict").headers["x-prediction-id"] == "pred-42"
    client.get("/other")
    predicted, other = _access_lines(capfd.readouterr().out)
    assert predicted["prediction_id"] == "pred-42"
    assert "prediction_id" not in other


@pytest.mark.usefixtures("access_info")
def test_an_escaping_exception_carries_the_request_ids(capfd: pytest.CaptureFixture[str]) -> None:
    headers = {"traceparent": TRACEPARENT, "x-request-id": "req-7"}
    with pytest.raises(RuntimeError) as raised:
        TestClient(_middleware()).get("/boom", headers=headers)
    record = logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None,
        (RuntimeError, raised.value, raised.value.__traceback__),
    )  # fmt: skip
    line = orjson.loads(JsonFormatter().format(record))
    assert (line["trace_id"], line["span_id"], line["request_id"]) == (TRACE, PARENT, "req-7")
    assert "RuntimeError: boom" in line["exception"]
    (access,) = _access_lines(capfd.readouterr().out)
    assert access["status"] == 500 and access["trace_id"] == TRACE


def test_correlation_never_overwrites_the_records_own_fields() -> None:
    error = ValueError("x")
    correlate(error, {"request_id": "from-request", "trace_id": TRACE})
    record = logging.LogRecord(
        "model_api", logging.ERROR, __file__, 1, "failed", None, (ValueError, error, None)
    )
    record.request_id = "own"
    line = orjson.loads(JsonFormatter().format(record))
    assert (line["request_id"], line["trace_id"]) == ("own", TRACE)
    plain = logging.LogRecord("model_api", logging.ERROR, __file__, 1, "failed", None, None)
    assert "trace_id" not in orjson.loads(JsonFormatter().format(plain))


# --- the real process --------------------------------------------------------------------------


def _log_lines(log: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _stop(server: Server) -> None:
    server.terminate()
    assert server.wait(timeout=60) == 0


@pytest.mark.integration
def test_model_api_serve_puts_the_span_trace_id_on_the_access_line(tmp_path: Path) -> None:
    store = trained_store()
    with otlp_receiver() as receiver:
        server = start_server(
            tmp_path,
            module="service",
            args=("serve",),
            env={
                "MODEL_URI": str(store.model_dir),
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "HOME": str(tmp_path),
                "MODEL_API_DRAIN_SECONDS": "0",
            },
            ready_timeout=120,
        )
        try:
            rows = load_dataset().x_valid.head(1)
            body = {
                "dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}
            }
            headers = {"traceparent": TRACEPARENT, "x-request-id": "corr-1"}
            with httpx.Client(base_url=server.url, timeout=30) as client:
                assert client.post("/invocations", json=body, headers=headers).status_code == 200
                assert client.get("/v2/models/model-api", headers={"x-request-id": "corr-2"})
            _stop(server)  # the lifespan shutdown flushes the span exporter
        finally:
            server.kill()
        spans = receiver.spans()
    access = {line["request_id"]: line for line in _access_lines(server.log.read_text())}
    servers = {s.span_id.hex(): s for s in spans if s.kind == s.SPAN_KIND_SERVER}

    # The caller's trace: the server span continues it, and the access line names that span.
    traced = access["corr-1"]
    assert traced["trace_id"] == TRACE and traced["route"] == "/invocations"
    span = servers[traced["span_id"]]
    assert span.trace_id.hex() == TRACE and span.parent_span_id.hex() == PARENT
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes[REQUEST_ID_ATTRIBUTE].string_value == "corr-1"
    assert attributes["http.route"].string_value == "/invocations"

    # No traceparent, tracing on: a new trace, and the line still names its span.
    fresh = access["corr-2"]
    span = servers[fresh["span_id"]]
    assert span.trace_id.hex() == fresh["trace_id"] != TRACE
    assert not span.parent_span_id
    assert {a.key: a.value for a in span.attributes}[REQUEST_ID_ATTRIBUTE].string_value == "corr-2"


@pytest.mark.integration
def test_an_unexpected_error_is_logged_with_the_callers_trace_id(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, env={"FAKE_FAIL_PREDICT": "model exploded", "MODEL_API_DRAIN_SECONDS": "0"}
    )
    try:
        headers = {"traceparent": TRACEPARENT, "x-request-id": "fail-1"}
        response = httpx.post(
            f"{server.url}/invocations", json=split_body(), headers=headers, timeout=30
        )
        assert response.status_code == 500
        _stop(server)
    finally:
        server.kill()
    lines = _log_lines(server.log)
    (failure,) = [line for line in lines if "exception" in line]
    assert "RuntimeError: model exploded" in failure["exception"]
    assert failure["level"] == "error"
    assert (failure["trace_id"], failure["span_id"], failure["request_id"]) == (
        TRACE,
        PARENT,
        "fail-1",
    )
    access = {line["request_id"]: line for line in _access_lines(server.log.read_text())}["fail-1"]
    assert access["status"] == 500 and access["trace_id"] == TRACE
