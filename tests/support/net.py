"""Loopback helpers shared by the integration tests: free ports, bounded readiness waits and
in-process servers run in a thread."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx

S = TypeVar("S", bound=socketserver.BaseServer)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, *, timeout: float = 60.0, status: int = 200) -> None:
    """Poll ``url`` until it answers ``status``; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == status:
                return
            last = response.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last: {last!r})")


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Run ``server`` (bound already, on 127.0.0.1) in a daemon thread; on exit stop it, close its
    socket and wait (bounded) for the thread."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
