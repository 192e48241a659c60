"""``model-api serve`` with its gRPC listener: readiness, drain, shutdown and workers together.

The real server (service.server.run) around the numpy predictor, in a subprocess on 127.0.0.1;
calls go over a real gRPC channel.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import numpy as np
import pytest

from service.grpc import oip_pb2
from service.grpc.server import SERVICE
from tests.support.fakes import ROW
from tests.support.net import free_port
from tests.support.serving import Server

pytestmark = pytest.mark.integration


def call(port: int, method: str, request: Any, response_type: type[Any]) -> Any:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = channel.unary_unary(
            f"/{SERVICE}/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=response_type.FromString,
        )
        return stub(request, timeout=10)


def ready(port: int) -> bool:
    response = call(port, "ServerReady", oip_pb2.ServerReadyRequest(), oip_pb2.ServerReadyResponse)
    return bool(response.ready)


def infer(port: int, rows: int = 2) -> list[int]:
    request = oip_pb2.ModelInferRequest(model_name="model-api")
    request.inputs.add(name="input-0", datatype="FP64", shape=[rows, 30])
    request.raw_input_contents.append(np.array([ROW] * rows).tobytes())
    response = call(port, "ModelInfer", request, oip_pb2.ModelInferResponse)
    return np.frombuffer(response.raw_output_contents[0], dtype=np.int64).tolist()


def test_drain_then_stop_both_listeners_together(servers: Callable[..., Server]) -> None:
    port = free_port()
    server = servers(env={"MODEL_API_GRPC_PORT": str(port), "MODEL_API_DRAIN_SECONDS": "3"})
    assert ready(port) and infer(port) == [1, 1]
    server.terminate()
    # Draining: readiness is false on both transports while requests are still served.
    for _ in range(50):
        if not ready(port):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("gRPC readiness never turned false while draining")
    assert httpx.get(f"{server.url}/v2/health/ready", timeout=5).status_code == 503
    assert infer(port) == [1, 1]
    assert server.wait(timeout=30) == 0
    with pytest.raises(grpc.RpcError) as caught:
        ready(port)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    log = server.log.read_text()
    assert '"protocol":"grpc"' in log and '"route":"grpc:ModelInfer"' in log


def test_two_workers_share_the_grpc_port(servers: Callable[..., Server]) -> None:
    port = free_port()
    env = {"MODEL_API_GRPC_PORT": str(port), "MODEL_API_WORKERS": "2"}
    server = servers(env={**env, "MODEL_API_DRAIN_SECONDS": "0"})
    for _ in range(10):
        assert infer(port, rows=1) == [1]
    server.terminate()
    assert server.wait(timeout=30) == 0


def test_a_taken_grpc_port_is_a_startup_error(servers: Callable[..., Server]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = servers(env={"MODEL_API_GRPC_PORT": str(port)}, wait=False)
        assert server.wait(timeout=60) == 1
    log = server.log.read_text()
    assert f"cannot listen for gRPC on 127.0.0.1:{port}" in log
    assert "Traceback" not in log
