"""The model API under hostile clients: every case a clear 4xx in bounded memory, never a 5xx.

One real server process (``service.server.run`` around the numpy test predictor) runs for the
module under an address-space cap (``resource.setrlimit``), with short head/body timeouts so the
slow-client cases end in seconds. Every socket has a timeout; every loop is bounded. After the
attacks the server's resident memory is read from /proc and must have stayed small, and its log
must hold no traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.bounded import limits
from tests.support.fakes import FEATURES, ROW
from tests.support.net import free_port, wait_http
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.integration

SERVER_MEMORY_MIB = 2048  # address space (not resident): numpy and uvloop reserve a lot
RESIDENT_BUDGET_MIB = 400  # what the server may hold after every attack (pod limit: 1 GiB)
HEAD_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
MAX_ROWS = 100_000


class Server:
    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MODEL_API_", "OTEL_"))},
            "PYTHONPATH": str(REPO_ROOT),
            "MODEL_API_HOST": "127.0.0.1",
            "MODEL_API_PORT": str(self.port),
            "MODEL_API_HEAD_TIMEOUT": str(HEAD_TIMEOUT),
            "MODEL_API_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "MODEL_API_MAX_ROWS": str(MAX_ROWS),
            "MODEL_API_DRAIN_SECONDS": "0",
        }
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.support.fake_server"],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=limits(SERVER_MEMORY_MIB, 600),
            )
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_http(f"{self.url}/v2/health/ready", timeout=60)
        except TimeoutError:
            self.stop()
            raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}") from None

    def resident_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert match is not None
        return int(match.group(1)) / 1024

    def metric(self, status: int) -> float:
        """Requests counted with ``status`` on any route, from /metrics."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        # (route templates hold braces themselves: match the status label anywhere on the line)
        pattern = rf'^model_api_requests_total\{{.*\bstatus="{status}".*\}} ([0-9.e+]+)$'
        return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("hostile-api") / "server.log")
    try:
        yield running
        assert running.process.poll() is None, "the server died"
        assert running.resident_mib() < RESIDENT_BUDGET_MIB
        log = running.log.read_text()
        assert "Traceback" not in log, log[-3000:]
    finally:
        running.stop()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    sock.settimeout(15)
    return sock


def read_all(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (bounded in size; the socket has a timeout)."""
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def status_of(response: bytes) -> int:
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", response)
    assert match is not None, response[:200]
    return int(match.group(1))


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send, ignoring a reset: the server may close as soon as it has seen enough."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


# --- request heads ---------------------------------------------------------------------------


def test_a_one_megabyte_header_is_431_and_the_connection_closes(server: Server) -> None:
    with connect(server) as sock:
        send_quietly(
            sock, b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
        )
        answer = read_all(sock)
    assert status_of(answer) == 431
    assert b"exceed 32768 bytes" in answer


def test_too_many_header_fields_is_431(server: Server) -> None:
    fields = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    with connect(server) as sock:
        send_quietly(sock, b"GET /ping HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        answer = read_all(sock)
    assert status_of(answer) == 431
    assert b"more than 100 header fields" in answer


def test_a_long_request_line_is_431(server: Server) -> None:
    with connect(server) as sock:
        send_quietly(sock, b"GET /ping?" + b"q" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(read_all(sock)) == 431


def test_ten_connections_of_megabyte_header_lines_cost_no_memory(server: Server) -> None:
    """The issue's case: 10 connections x 20 header lines of 1 MiB (was +215 MB resident)."""
    before = server.resident_mib()
    statuses: list[int] = []
    line = b"X-Junk: " + b"j" * (1 << 20) + b"\r\n"

    def attack() -> None:
        with connect(server) as sock:
            send_quietly(sock, b"POST /invocations HTTP/1.1\r\nHost: x\r\n")
            for _ in range(20):
                send_quietly(sock, line)
            statuses.append(status_of(read_all(sock)))

    threads = [threading.Thread(target=attack) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [431] * 10
    assert server.resident_mib() - before < 50
    assert httpx.get(f"{server.url}/ping", timeout=10).status_code == 200


def test_a_head_that_never_ends_is_408_and_an_idle_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: app")
        answer = read_all(sock)  # the server closes after HEAD_TIMEOUT; the socket waits 15 s
    assert status_of(answer) == 408
    with connect(server) as sock:
        assert read_all(sock) == b""  # connected, sent nothing: closed without an answer


# --- bodies -----------------------------------------------------------------------------------


def test_a_body_that_stops_arriving_is_408_and_counted_as_408(server: Server) -> None:
    before = server.metric(408)
    with connect(server) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"data'
        )
        answer = read_all(sock)
    assert status_of(answer) == 408
    assert b"REQUEST_TIMEOUT" in answer and b"connection: close" in answer.lower()
    assert server.metric(408) == before + 1


def test_a_client_hanging_up_mid_body_is_499_never_a_server_error(server: Server) -> None:
    """The issue's fake 5xx: Content-Length 100, six bytes, hang up (a canary could fail on it)."""
    errors_before = server.metric(500)
    hangups_before = server.metric(499)
    for path in (b"/invocations", b"/v2/models/model-api/infer"):
        with connect(server) as sock:
            sock.sendall(
                b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"data'
            )
            time.sleep(0.2)  # let the handler start reading the body
        # closed: the server sees the hang-up while waiting for the rest of the body
    deadline = time.monotonic() + 10
    while server.metric(499) < hangups_before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.metric(499) == hangups_before + 2
    assert server.metric(500) == errors_before


def test_a_parquet_bomb_is_413_before_it_is_decoded(server: Server) -> None:
    """The issue's case: a ~400 KB zstd Parquet file of 3M rows (was 200 after 5-7 s, 1.27 GB)."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = 3_000_000
    table = pa.table(
        {name: np.full(rows, value) for name, value in zip(FEATURES, ROW, strict=True)}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", compression_level=19)
    body = sink.getvalue()
    assert len(body) < 1 << 20  # under the wire limit: only the decoded size can stop it
    before = server.resident_mib()
    response = httpx.post(
        f"{server.url}/invocations",
        content=body,
        headers={"content-type": "application/vnd.apache.parquet"},
        timeout=30,
    )
    assert response.status_code == 413
    assert f"more than the limit of {MAX_ROWS} rows" in response.json()["message"]
    assert server.resident_mib() - before < 100


def test_a_megabyte_of_tiny_csv_rows_does_not_stall_other_requests(server: Server) -> None:
    """Parsing runs off the event loop: /ping answers while a 1 MiB CSV body is parsed."""
    header = ",".join(f'"{name}"' for name in FEATURES)
    line = ",".join("1" for _ in FEATURES)
    rows = ((1 << 20) - len(header)) // (len(line) + 1) - 1
    body = (header + "\n" + (line + "\n") * rows).encode()
    finished: list[str] = []

    def big() -> None:
        response = httpx.post(
            f"{server.url}/invocations", content=body,
            headers={"content-type": "text/csv"}, timeout=60,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        finished.append("csv")

    thread = threading.Thread(target=big)
    thread.start()
    time.sleep(0.05)
    assert httpx.get(f"{server.url}/ping", timeout=30).status_code == 200
    finished.append("ping")
    thread.join(timeout=60)
    assert finished == ["ping", "csv"]


def test_oip_fields_of_the_wrong_json_type_are_400(server: Server) -> None:
    good = {"name": "input-0", "shape": [1, len(FEATURES)], "datatype": "FP64", "data": list(ROW)}
    for field, value in (
        ("datatype", ["FP64"]), ("datatype", {"a": 1}), ("datatype", 3), ("name", ["x"]),
        ("shape", {"a": 1}), ("shape", [[1]]), ("data", {"a": 1}), ("data", "x"),
    ):  # fmt: skip
        tensor = {**good, field: value}
        response = httpx.post(
            f"{server.url}/v2/models/model-api/infer", json={"inputs": [tensor]}, timeout=10
        )
        assert response.status_code == 400, (field, value, response.text)
        assert response.json()["error"]
