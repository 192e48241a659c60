"""The real server (``service.server.run`` under uvicorn) in subprocesses on 127.0.0.1.

The predictor is the numpy model from tests/support/fakes.py; everything else — socket, uvicorn,
workers, signals, drain and graceful shutdown — is what production runs.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from service.dataplane import INLINE_MAX_ROWS
from service.server import StartupError, bind_socket
from tests.support.net import free_port
from tests.support.serving import Server, split_body

pytestmark = pytest.mark.integration

NO_DRAIN = {"MODEL_API_DRAIN_SECONDS": "0"}


def test_two_workers_serve_both_protocols_and_stop_cleanly(
    servers: Callable[..., Server],
) -> None:
    server = servers(env={**NO_DRAIN, "MODEL_API_WORKERS": "2"})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(10):
            response = client.post("/invocations", json=split_body(2))
            assert response.json()["predictions"] == [1, 1]
        # Above the inline limit: a worker thread computes it, and must not trouble the exit.
        rows = INLINE_MAX_ROWS + 1
        response = client.post("/invocations", json=split_body(rows))
        assert response.json()["predictions"] == [1] * rows
        assert client.get("/v2/models/model-api/ready").status_code == 200
        metrics = client.get("/metrics").text
    assert 'model_api_requests_total{method="POST",route="/invocations",status="200"}' in metrics
    # Readiness answers once one worker is up; stop only when both are (bounded wait), so the
    # shutdown under test is that of two serving workers, not of one still loading.
    deadline = time.monotonic() + 60
    while server.log.read_text().count('"message":"model ready"') < 2:
        assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.2)
    server.terminate()
    assert server.wait() == 0
    lines = server.log.read_text()
    assert '"logger":"model_api.access"' in lines and '"route":"/invocations"' in lines
    assert lines.count('"message":"model ready"') == 2
    assert "abandoning" not in lines


def test_a_model_that_cannot_load_exits_1_with_the_reason(servers: Callable[..., Server]) -> None:
    server = servers(env={"FAKE_FAIL_LOAD": "registry unreachable"}, wait=False)
    assert server.wait(timeout=60) == 1
    log = server.log.read_text()
    assert "cannot load the model from models:/model-api@champion: registry unreachable" in log
    assert "Traceback" not in log
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ping", timeout=2)


def test_a_failing_worker_stops_the_supervisor(servers: Callable[..., Server]) -> None:
    env = {"MODEL_API_WORKERS": "2", "FAKE_FAIL_LOAD": "corrupt model"}
    server = servers(env=env, wait=False)
    assert server.wait(timeout=60) == 1
    assert "corrupt model" in server.log.read_text()


def test_an_idle_library_thread_is_not_abandoned_work(servers: Callable[..., Server]) -> None:
    server = servers(env={**NO_DRAIN, "FAKE_IDLE_POOL": "1"})
    rows = INLINE_MAX_ROWS + 1  # a worker thread computes this one
    response = httpx.post(f"{server.url}/invocations", json=split_body(rows), timeout=30)
    assert response.json()["predictions"] == [1] * rows
    server.terminate()
    assert server.wait(timeout=30) == 0
    log = server.log.read_text()
    assert "abandoning" not in log and '"message":"Finished server process' in log, log[-2000:]


def test_in_flight_requests_beyond_the_grace_period_do_not_hold_the_exit(
    servers: Callable[..., Server],
) -> None:
    # Above the inline limit, so the request computes in a worker thread.
    rows = INLINE_MAX_ROWS + 1
    env = {
        **NO_DRAIN,
        "FAKE_PREDICT_DELAY": "30",
        "FAKE_DELAY_ROWS": str(rows),
        "MODEL_API_GRACEFUL_TIMEOUT": "1",
    }
    server = servers(env=env)
    results: list[object] = []

    def slow_request() -> None:
        try:
            response = httpx.post(f"{server.url}/invocations", json=split_body(rows), timeout=60)
            results.append(response.status_code)
        except httpx.HTTPError as exc:
            results.append(exc)

    thread = threading.Thread(target=slow_request)
    thread.start()
    # Wait until the slow request is in flight (the /metrics request itself counts as one).
    for _ in range(100):
        if "model_api_requests_in_flight 2.0" in httpx.get(f"{server.url}/metrics").text:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the slow request never reached the server")
    server.terminate()
    # Grace 1 s plus uvicorn's bookkeeping; far below the 30 s the request would need.
    assert server.wait(timeout=15) == 0
    thread.join(timeout=10)
    assert results and results[0] != 200, (results, server.log.read_text()[-2000:])
    abandoned = '"message":"abandoning computations in progress","computations":1'
    assert abandoned in server.log.read_text()


# --- zero failed requests across a rolling restart --------------------------------------------


@dataclass
class Balancer:
    """A tiny load balancer: routes to backends whose readiness probe says 200 (polled 10x/s),
    like Kubernetes endpoints follow readiness."""

    backends: list[Server] = field(default_factory=list)
    ready: list[Server] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    turn: int = 0

    def probe_forever(self) -> None:
        with httpx.Client(timeout=0.5) as client:
            while not self.stopped.is_set():
                ready = []
                for backend in list(self.backends):
                    try:
                        if client.get(f"{backend.url}/v2/health/ready").status_code == 200:
                            ready.append(backend)
                    except httpx.HTTPError:
                        pass
                with self.lock:
                    self.ready = ready
                time.sleep(0.1)

    def pick(self) -> Server | None:
        with self.lock:
            if not self.ready:
                return None
            self.turn += 1
            return self.ready[self.turn % len(self.ready)]

    def wait_ready(self, backend: Server, *, present: bool, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (backend in self.ready) != present:
            assert time.monotonic() < deadline, "balancer did not notice the readiness change"
            time.sleep(0.05)


@dataclass
class Outcome:
    backend: Server
    started: float
    status: int | None
    error: str | None = None


def drive_load(balancer: Balancer, outcomes: list[Outcome], stop: threading.Event) -> None:
    clients: dict[int, httpx.Client] = {}
    body = split_body(1)
    try:
        for _ in range(5000):  # bounded
            if stop.is_set():
                return
            backend = balancer.pick()
            if backend is None:
                time.sleep(0.01)
                continue
            client = clients.get(backend.port)
            if client is None or client.is_closed:
                client = clients[backend.port] = httpx.Client(base_url=backend.url, timeout=30)
            started = time.monotonic()
            try:
                status: int | None = client.post("/invocations", json=body).status_code
                outcomes.append(Outcome(backend, started, status))
            except httpx.HTTPError as exc:
                outcomes.append(Outcome(backend, started, None, repr(exc)))
                client.close()
    finally:
        for client in clients.values():
            client.close()


def test_rolling_restart_under_load_fails_no_request(servers: Callable[..., Server]) -> None:
    """Old and new servers alternate on two ports behind the balancer while 6 clients keep
    sending; every request the balancer sent must succeed, including those in flight when
    SIGTERM arrived and those sent during the drain."""
    # The drain must outlast the balancer noticing the readiness change (10 probes a second).
    env = {"MODEL_API_DRAIN_SECONDS": "2.0", "FAKE_PREDICT_DELAY": "0.005"}
    first = servers(env=env)
    balancer = Balancer(backends=[first])
    prober = threading.Thread(target=balancer.probe_forever, daemon=True)
    prober.start()
    balancer.wait_ready(first, present=True)
    outcomes: list[Outcome] = []
    stop = threading.Event()
    load = [threading.Thread(target=drive_load, args=(balancer, outcomes, stop)) for _ in range(6)]
    for thread in load:
        thread.start()
    terminated: dict[int, float] = {}
    try:
        time.sleep(0.5)
        old = first
        for port in (free_port(), first.port):  # restart onto a new port, then back
            new = servers(env=env, port=port)
            balancer.backends.append(new)
            balancer.wait_ready(new, present=True)
            terminated[id(old)] = time.monotonic()
            old.terminate()
            assert old.wait(timeout=30) == 0
            balancer.backends.remove(old)
            time.sleep(0.3)
            old = new
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in load:
            thread.join(timeout=30)
        balancer.stopped.set()
    failures = [o for o in outcomes if o.status != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} requests failed: {failures[:3]}"
    # The test must have exercised the interesting part: requests reaching a server after its
    # SIGTERM (during the drain) and a real number of requests overall.
    after_term = [
        o for o in outcomes if id(o.backend) in terminated and o.started > terminated[id(o.backend)]
    ]
    assert after_term, "no request reached a draining server; the test proved nothing"
    assert len(outcomes) > 200
    assert (
        len({o.backend.port for o in outcomes}) == 2 and len({id(o.backend) for o in outcomes}) == 3
    )


# --- the socket that avoids uvicorn#3149 ------------------------------------------------------


def accepted_nodelay(listener: socket.socket) -> int:
    """TCP_NODELAY on a connection asyncio accepts from ``listener``."""

    async def main() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
        server.close()
        return value

    return asyncio.run(main())


def test_accepted_connections_get_tcp_nodelay() -> None:
    ours = bind_socket("127.0.0.1", 0)
    assert ours.proto == socket.IPPROTO_TCP
    assert accepted_nodelay(ours) != 0
    # What uvicorn's multi-worker socket looks like: asyncio leaves Nagle on (the bug).
    theirs = socket.socket(socket.AF_INET)
    theirs.bind(("127.0.0.1", 0))
    assert accepted_nodelay(theirs) == 0


def test_port_in_use_is_a_startup_error() -> None:
    taken = bind_socket("127.0.0.1", 0)
    with pytest.raises(StartupError, match=r"cannot listen on 127\.0\.0\.1"):
        bind_socket("127.0.0.1", taken.getsockname()[1])
    taken.close()


def test_body_limit_over_real_http(servers: Callable[..., Server]) -> None:
    """413 from the declared Content-Length before any body arrives, and while a chunked body
    streams in; the connection is closed after the answer."""
    server = servers(env={**NO_DRAIN, "MODEL_API_MAX_BODY_BYTES": "2000"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )
        head = conn.recv(4096)  # answered without sending a single body byte
        assert head.startswith(b"HTTP/1.1 413 ")
        assert b"connection: close" in head.lower()

    def chunks() -> Iterator[bytes]:  # 10 kB: over the limit, small enough for socket buffers
        for _ in range(100):
            yield b" " * 100

    response = httpx.post(
        f"{server.url}/invocations",
        content=chunks(),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "RESOURCE_LIMIT_EXCEEDED"
    assert httpx.get(f"{server.url}/ping", timeout=5).status_code == 200
