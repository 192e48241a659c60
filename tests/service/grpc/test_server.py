"""The gRPC service on a real ``grpc.aio`` server, against the same app's HTTP routes.

The server runs on its own event loop thread on 127.0.0.1; calls go through a real gRPC channel
with this repository's messages (wire-identical to the OIP proto). The client libraries of
Triton and KServe are exercised against ``model-api serve`` in tests/service/test_oip_clients.py
(they cannot share a process with each other).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app, data_plane
from service.grpc import oip_pb2
from service.grpc.server import SERVICE, GrpcServer, InferenceService
from tests.support.fakes import FEATURES, ROW, LinearPredictor
from tests.support.serving import settings

ROWS = np.array([ROW, [v * 0.5 for v in ROW], [v * 1.5 for v in ROW]])


class LoopThread:
    """An asyncio loop running on a daemon thread; :meth:`run` waits (bounded) for a coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class Running:
    """An app (for its HTTP twin and data plane) and its gRPC server on a loop thread."""

    def __init__(
        self, tmp_path: Path, listener: dict[str, Any] | None = None, **overrides: Any
    ) -> None:
        self.app = create_app(settings(**overrides), LinearPredictor())
        self.http = TestClient(self.app, raise_server_exceptions=False)
        self.http.__enter__()  # lifespan: loads the model
        self.plane = data_plane(self.app)
        auth_file = overrides.get("token_file")
        from service.auth import BearerAuth

        service = InferenceService(
            self.plane,
            server_name="model-api",
            server_version="test",
            extensions=["binary_tensor_data"],
            auth=BearerAuth(auth_file) if auth_file else None,
            max_rows=1000,
        )
        self.server = GrpcServer(
            service, max_message_bytes=64 * 1024, reuse_port=False, **(listener or {})
        )
        self.loop = LoopThread()
        port = self.loop.run(self.server.start("127.0.0.1", 0))
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")

    def call(self, method: str, request: Any, response_type: type[Any], **kwargs: Any) -> Any:
        stub = self.channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        return stub(request, timeout=30, **kwargs)

    def infer(self, request: oip_pb2.ModelInferRequest, **kwargs: Any) -> Any:
        return self.call("ModelInfer", request, oip_pb2.ModelInferResponse, **kwargs)

    def refusal(self, method: str, request: Any, response_type: type[Any]) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as caught:
            self.call(method, request, response_type)
        return caught.value

    def close(self) -> None:
        self.channel.close()
        self.loop.run(self.server.stop(0))
        self.loop.stop()
        self.http.__exit__(None, None, None)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def make(listener: dict[str, Any] | None = None, **overrides: Any) -> Running:
        running = Running(tmp_path, listener, **overrides)
        started.append(running)
        return running

    yield make
    for running in started:
        running.close()


def raw_request(rows: np.ndarray, dtype: Any = np.float64, **fields: Any) -> Any:
    datatype = {np.float64: "FP64", np.float32: "FP32"}[dtype]
    request = oip_pb2.ModelInferRequest(model_name="model-api", **fields)
    request.inputs.add(name="input-0", datatype=datatype, shape=list(rows.shape))
    request.raw_input_contents.append(rows.astype(dtype).tobytes())
    return request


def http_infer(running: Running, document: dict[str, Any]) -> Any:
    return running.http.post("/v2/models/model-api/infer", json=document)


def json_outputs(running: Running, rows: np.ndarray) -> tuple[list[int], np.ndarray]:
    document = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(rows.shape),
                "datatype": "FP64",
                "data": rows.tolist(),
            }
        ]
    }
    labels, probabilities = http_infer(running, document).json()["outputs"]
    return labels["data"], np.array(probabilities["data"], dtype=np.float32)


def requests(running: Running, route: str, status: int) -> float:
    """``model_api_requests_total`` of one gRPC route and status, from ``GET /metrics``."""
    families = text_string_to_metric_families(running.http.get("/metrics").text)
    return sum(
        sample.value
        for family in families
        if family.name == "model_api_requests"
        for sample in family.samples
        if sample.labels == {"route": route, "method": "POST", "status": str(status)}
    )


def decoded(response: Any) -> dict[str, np.ndarray]:
    types = {"INT64": np.int64, "FP32": np.float32}
    return {
        output.name: np.frombuffer(raw, dtype=types[output.datatype])
        for output, raw in zip(response.outputs, response.raw_output_contents, strict=True)
    }


def test_health_and_metadata(start: Callable[..., Running]) -> None:
    running = start()
    assert running.call("ServerLive", oip_pb2.ServerLiveRequest(), oip_pb2.ServerLiveResponse).live
    ready = running.call("ServerReady", oip_pb2.ServerReadyRequest(), oip_pb2.ServerReadyResponse)
    assert ready.ready
    model = oip_pb2.ModelReadyRequest(name="model-api", version="7")
    assert running.call("ModelReady", model, oip_pb2.ModelReadyResponse).ready
    server = running.call(
        "ServerMetadata", oip_pb2.ServerMetadataRequest(), oip_pb2.ServerMetadataResponse
    )
    assert (server.name, list(server.extensions)) == ("model-api", ["binary_tensor_data"])
    request = oip_pb2.ModelMetadataRequest(name="model-api")
    meta = running.call("ModelMetadata", request, oip_pb2.ModelMetadataResponse)
    http = running.http.get("/v2/models/model-api").json()
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        (t["name"], t["datatype"], t["shape"]) for t in http["inputs"]
    ]
    assert [(t.name, t.datatype) for t in meta.outputs] == [
        ("predict", "INT64"),
        ("probability", "FP32"),
    ]
    assert (meta.name, list(meta.versions), meta.platform) == ("model-api", ["7"], "fake")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_raw_infer_matches_the_json_route(start: Callable[..., Running], dtype: Any) -> None:
    running = start()
    response = running.infer(raw_request(ROWS, dtype, id="req-9"))
    labels, probabilities = json_outputs(running, ROWS.astype(dtype).astype(np.float64))
    outputs = decoded(response)
    assert outputs["predict"].tolist() == labels
    np.testing.assert_array_equal(outputs["probability"], probabilities)
    assert (response.id, response.model_name, response.model_version) == ("req-9", "model-api", "7")
    assert [list(o.shape) for o in response.outputs] == [[3], [3]]


def test_typed_contents_per_column_and_a_generated_id(start: Callable[..., Running]) -> None:
    running = start()
    request = oip_pb2.ModelInferRequest(model_name="model-api")
    for j, name in enumerate(FEATURES):
        tensor = request.inputs.add(name=name, datatype="FP64", shape=[len(ROWS)])
        tensor.contents.fp64_contents.extend(ROWS[:, j].tolist())
    request.outputs.add(name="probability")
    response = running.infer(request)
    assert [o.name for o in response.outputs] == ["probability"]
    np.testing.assert_array_equal(decoded(response)["probability"], json_outputs(running, ROWS)[1])
    assert response.id  # generated: the request had none


def test_bytes_contents_are_numbers_as_text(start: Callable[..., Running]) -> None:
    running = start()
    request = oip_pb2.ModelInferRequest(model_name="model-api")
    tensor = request.inputs.add(name="input-0", datatype="BYTES", shape=[1, 30])
    tensor.contents.bytes_contents.extend(repr(v).encode() for v in ROW)
    labels, _ = json_outputs(running, np.array([ROW]))
    assert decoded(running.infer(request))["predict"].tolist() == labels


def refusal_cases() -> list[tuple[str, Any, int]]:
    """(what, ModelInferRequest, HTTP status of the same refusal)."""
    narrow = raw_request(ROWS[:, :29])
    short = raw_request(ROWS)
    short.raw_input_contents[0] = short.raw_input_contents[0][:-8]
    extra = raw_request(ROWS)
    extra.raw_input_contents.append(b"\0" * 8)
    huge = raw_request(ROWS[:1])
    huge.inputs[0].shape[:] = [1 << 61, 30]
    negative = raw_request(ROWS[:1])
    negative.inputs[0].shape[:] = [-1, 30]
    mixed = raw_request(ROWS[:1])
    mixed.inputs[0].contents.fp64_contents.extend(ROW)
    half = oip_pb2.ModelInferRequest(model_name="model-api")
    half.inputs.add(name="input-0", datatype="FP16", shape=[1, 30]).contents.fp32_contents.extend(
        ROW
    )
    unknown_output = raw_request(ROWS[:1])
    unknown_output.outputs.add(name="nope")
    empty = oip_pb2.ModelInferRequest(model_name="model-api")
    other = raw_request(ROWS[:1])
    other.model_name = "other"
    version = raw_request(ROWS[:1])
    version.model_version = "99"
    return [
        ("29 columns", narrow, 400),
        ("truncated raw tensor", short, 400),
        ("more raw entries than inputs", extra, 400),
        ("huge declared shape", huge, 400),
        ("negative dimension", negative, 400),
        ("raw and typed contents", mixed, 400),
        ("FP16 without raw", half, 400),
        ("unknown output", unknown_output, 400),
        ("no inputs", empty, 400),
        ("unknown model", other, 404),
        ("unknown version", version, 404),
    ]


@pytest.mark.parametrize(
    ("what", "request_", "status"), refusal_cases(), ids=[case[0] for case in refusal_cases()]
)
def test_refusals_carry_the_http_message_as_a_grpc_status(
    start: Callable[..., Running], what: str, request_: Any, status: int
) -> None:
    running = start()
    error = running.refusal("ModelInfer", request_, oip_pb2.ModelInferResponse)
    expected = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}[status]
    assert error.code() == expected, (what, error.details())
    assert error.details()
    assert requests(running, "grpc:ModelInfer", status) == 1


@pytest.mark.parametrize(
    "message",
    [b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x0a\x03\xff\xfe\xfd"],
    ids=["bad tag", "overlong length", "invalid UTF-8 in model_name"],
)
def test_a_malformed_message_is_invalid_argument(
    start: Callable[..., Running], caplog: pytest.LogCaptureFixture, message: bytes
) -> None:
    running = start()
    for method in ("ModelInfer", "ModelMetadata"):
        call = running.channel.unary_unary(f"/{SERVICE}/{method}")  # bytes in, bytes out
        with pytest.raises(grpc.RpcError) as caught:
            call(message, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.details() == f"the message is not a valid inference.{method}Request"
        assert requests(running, f"grpc:{method}", 400) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


class Stalled:
    """gRPC calls whose request message never arrives: the stream opens and sends nothing."""

    def __init__(self, port: int, count: int) -> None:
        self.loop = LoopThread()
        self.channel: Any = None
        self.calls: list[Any] = self.loop.run(self._open(port, count))

    async def _open(self, port: int, count: int) -> list[Any]:
        async def nothing() -> Any:
            await asyncio.sleep(3600)
            yield b""

        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        infer = self.channel.stream_unary(f"/{SERVICE}/ModelInfer")
        calls = [infer(nothing(), timeout=60) for _ in range(count)]
        await asyncio.sleep(0.5)  # the streams are open on the server
        return calls

    def outcome(self, index: int, timeout: float) -> grpc.StatusCode | None:
        """The status call ``index`` ended with, None if it is still pending after ``timeout``."""

        async def wait() -> grpc.StatusCode | None:
            call = self.calls[index]
            try:
                await asyncio.wait_for(asyncio.shield(call.code()), timeout)
            except TimeoutError:
                return None
            code: grpc.StatusCode = await call.code()
            return code

        return self.loop.run(wait(), timeout=timeout + 30)

    def close(self) -> None:
        self.loop.run(self.channel.close())
        self.loop.stop()


def test_calls_beyond_the_limit_are_refused_while_stalled_ones_hold_it(
    start: Callable[..., Running],
) -> None:
    running = start(listener={"max_calls": 3})
    stalled = Stalled(running.server.port, 3)
    try:
        assert stalled.outcome(0, timeout=0.5) is None  # still waiting for its message
        error = running.refusal("ModelInfer", raw_request(ROWS), oip_pb2.ModelInferResponse)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        stalled.close()
    for _ in range(100):  # the server notices the closed streams (bounded wait)
        try:
            assert len(running.infer(raw_request(ROWS)).raw_output_contents) == 2
            break
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            threading.Event().wait(0.1)
    else:
        raise AssertionError("the limit never freed up")


def test_an_old_connection_is_closed_with_its_stalled_call(start: Callable[..., Running]) -> None:
    running = start(listener={"max_connection_age": 1.0, "connection_age_grace": 1.0})
    stalled = Stalled(running.server.port, 1)
    try:
        # Age 1 s (GOAWAY), then 1 s of grace: the call that never sent its message ends.
        assert stalled.outcome(0, timeout=20) == grpc.StatusCode.UNAVAILABLE
    finally:
        stalled.close()
    assert len(running.infer(raw_request(ROWS)).raw_output_contents) == 2


def test_same_message_as_the_http_route(start: Callable[..., Running]) -> None:
    running = start()
    error = running.refusal("ModelInfer", raw_request(ROWS[:, :29]), oip_pb2.ModelInferResponse)
    document = {
        "inputs": [
            {"name": "input-0", "shape": [3, 29], "datatype": "FP64", "data": ROWS[:, :29].tolist()}
        ]
    }
    http = http_infer(running, document)
    assert http.status_code == 400 and error.details() == http.json()["error"]


def test_metrics_and_access_log_count_grpc_calls(start: Callable[..., Running]) -> None:
    running = start()
    running.infer(raw_request(ROWS))
    running.call("ServerLive", oip_pb2.ServerLiveRequest(), oip_pb2.ServerLiveResponse)
    assert requests(running, "grpc:ModelInfer", 200) == 1
    assert requests(running, "grpc:ServerLive", 200) == 1
    assert 'model_api_predictions_total{model_version="7"} 3.0' in running.http.get("/metrics").text


def test_draining_is_not_ready_on_both_transports(start: Callable[..., Running]) -> None:
    running = start()
    running.plane.draining = True
    ready = running.call("ServerReady", oip_pb2.ServerReadyRequest(), oip_pb2.ServerReadyResponse)
    model = oip_pb2.ModelReadyRequest(name="model-api")
    assert not ready.ready
    assert not running.call("ModelReady", model, oip_pb2.ModelReadyResponse).ready
    assert running.http.get("/v2/health/ready").status_code == 503
    unknown = oip_pb2.ModelReadyRequest(name="other")
    error = running.refusal("ModelReady", unknown, oip_pb2.ModelReadyResponse)
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_bearer_token_in_metadata(start: Callable[..., Running], tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    running = start(token_file=token)
    with pytest.raises(grpc.RpcError) as caught:
        running.infer(raw_request(ROWS))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as wrong:
        running.infer(raw_request(ROWS), metadata=[("authorization", "Bearer nope")])
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    response = running.infer(raw_request(ROWS), metadata=[("authorization", "Bearer s3cret")])
    assert len(response.raw_output_contents) == 2
    # Health and metadata stay open, as over HTTP.
    assert running.call("ServerLive", oip_pb2.ServerLiveRequest(), oip_pb2.ServerLiveResponse).live


def test_messages_above_the_body_limit_are_refused(start: Callable[..., Running]) -> None:
    running = start()
    big = np.zeros((400, 30))  # 96 kB of raw data, above the 64 kB limit of this server
    with pytest.raises(grpc.RpcError) as caught:
        running.infer(raw_request(big))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_model_infer_names_its_prediction_for_feedback(
    start: Callable[..., Running], tmp_path: Path
) -> None:
    running = start(feedback_store=f"sqlite:///{tmp_path / 'feedback.sqlite'}")
    response, call = running.channel.unary_unary(
        f"/{SERVICE}/ModelInfer",
        request_serializer=oip_pb2.ModelInferRequest.SerializeToString,
        response_deserializer=oip_pb2.ModelInferResponse.FromString,
    ).with_call(raw_request(ROWS), timeout=30)
    trailing = dict(call.trailing_metadata())
    prediction_id = trailing["x-prediction-id"]
    assert response.id == prediction_id  # the client sent no id
    named, named_call = running.channel.unary_unary(
        f"/{SERVICE}/ModelInfer",
        request_serializer=oip_pb2.ModelInferRequest.SerializeToString,
        response_deserializer=oip_pb2.ModelInferResponse.FromString,
    ).with_call(raw_request(ROWS[:1], id="client-9"), timeout=30)
    assert named.id == "client-9"
    assert dict(named_call.trailing_metadata())["x-prediction-id"] not in (
        "client-9",
        prediction_id,
    )
    labels = decoded(response)["predict"].tolist()
    feedback = {"prediction_id": prediction_id, "labels": labels}
    answer = running.http.post("/feedback", json=feedback)
    assert answer.status_code == 202 and answer.json()["rows"] == 3
