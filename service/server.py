"""Run the API under uvicorn: one process, or N worker processes sharing one socket.

Startup order: load the model (and warm it up), then bind and serve. A model that cannot be
loaded ends the process with exit code 1 and one log line saying why — it never serves without a
model. On SIGTERM the server first *drains*: for ``drain_seconds`` it keeps serving while its
readiness endpoints answer 503, so load balancers (Kubernetes endpoints) stop routing new
requests to it; then it stops accepting, lets in-flight requests finish for up to
``graceful_timeout`` seconds, and exits 0. A second SIGTERM, or SIGINT, skips the drain.

Why we bind the socket ourselves: with ``--workers N > 1`` uvicorn (0.54) pre-binds a socket
created as ``socket.socket(family)``, whose ``proto`` is 0. asyncio only enables TCP_NODELAY on
accepted sockets whose ``proto`` is ``IPPROTO_TCP``, so every keep-alive request after the first
waits ~40 ms for a delayed ACK (Kludex/uvicorn#3149). We create the listening socket with
``IPPROTO_TCP`` explicitly; accepted sockets inherit it, so both asyncio and uvloop set
TCP_NODELAY. The workers share that one socket (one accept queue), which also means a stopping
worker never strands connections in a private queue, as per-worker SO_REUSEPORT sockets would.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, cast

import uvicorn
from fastapi import FastAPI

from service import logging as json_logging
from service import offload
from service.app import create_app, data_plane, grpc_service
from service.auth import TokenError
from service.dataplane import load_failure
from service.httpguard import HeadLimits, guarded_protocol
from service.predictor import ModelLoadError, Predictor
from service.protocol.schema import SchemaError
from service.settings import ServeSettings

if TYPE_CHECKING:
    from service.grpc.server import InferenceService

DEFAULT_PREDICTOR_FACTORY = "service.server:model_predictor"
LISTEN_BACKLOG = 2048
# Extra seconds the supervisor grants workers beyond the graceful timeout before SIGKILL.
_KILL_MARGIN = 5.0
_log = logging.getLogger("model_api.server")

PredictorFactory = Callable[[ServeSettings], Predictor]


class StartupError(Exception):
    """The server cannot start; the message says why."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with ``proto=IPPROTO_TCP`` (see the module docstring)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def model_predictor(settings: ServeSettings) -> Predictor:
    """The real runtime (:mod:`service.model`): resolve and download ``MODEL_URI``."""
    from service.model import load_predictor

    return load_predictor(settings.model_uri)


def import_factory(path: str) -> PredictorFactory:
    """Resolve ``"package.module:function"``."""
    module_name, _, attribute = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise StartupError(f"cannot import the predictor factory {path}: {exc}") from None
    return cast(PredictorFactory, factory)


def build_app(settings: ServeSettings, predictor_factory: str) -> FastAPI:
    """Create the predictor and the app, load and warm up the model; StartupError if impossible."""
    factory = import_factory(predictor_factory)
    try:
        app = create_app(settings, factory(settings))
        data_plane(app).load(settings.model_uri)
    except (ModelLoadError, TokenError, SchemaError) as exc:
        raise StartupError(str(exc)) from exc
    except Exception as exc:  # whatever the model runtime raises while resolving the model
        raise StartupError(load_failure(settings.model_uri, exc)) from exc
    return app


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain period between SIGTERM and the start of its shutdown.

    With a :class:`GrpcListener` it also runs the gRPC server on the same event loop: started
    once uvicorn has started, stopped together with it (both stop taking new requests at once
    and share the graceful timeout), draining through the data plane both read.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain_seconds: float,
        on_drain: Callable[[], None],
        grpc: GrpcListener | None = None,
    ):
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._on_drain = on_drain
        self._drain_deadline: float | None = None
        self._grpc = grpc
        self.failed = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._grpc is None or self.should_exit:
            return
        try:
            await self._grpc.start()
        except OSError as exc:
            _log.error(str(exc))
            self.failed = True
            self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._grpc is None:
            await super().shutdown(sockets=sockets)
            return
        await asyncio.gather(super().shutdown(sockets=sockets), self._grpc.stop())

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first_term = sig == signal.SIGTERM and self._drain_deadline is None
        if first_term and self._drain_seconds > 0 and not self.should_exit:
            self._drain_deadline = time.monotonic() + self._drain_seconds
            self._on_drain()
            _log.info("draining", extra={"seconds": self._drain_seconds})
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_deadline is not None and time.monotonic() >= self._drain_deadline:
            self.should_exit = True
        return await super().on_tick(counter)


class GrpcListener:
    """The gRPC server of one process: where it listens and how long it may finish calls."""

    def __init__(self, service: InferenceService, settings: ServeSettings) -> None:
        from service.grpc.server import GrpcServer

        assert settings.grpc_port is not None
        self.host = settings.host
        self.port = settings.grpc_port
        self.grace = settings.graceful_timeout
        # Several workers share the port on purpose (SO_REUSEPORT); one process never does, so
        # a second server on a taken port fails instead of silently sharing it.
        self.server = GrpcServer(
            service,
            max_message_bytes=settings.max_body_bytes,
            reuse_port=settings.workers > 1,
            max_calls=settings.grpc_max_calls,
            max_connection_age=settings.grpc_max_connection_age,
            connection_age_grace=settings.body_timeout,
        )

    async def start(self) -> None:
        port = await self.server.start(self.host, self.port)
        _log.info("listening", extra={"host": self.host, "port": port, "protocol": "grpc"})

    async def stop(self) -> None:
        await self.server.stop(self.grace)


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal it shut down for; after a graceful stop, exit 0 instead."""


def serve_app(app: FastAPI, settings: ServeSettings, sock: socket.socket) -> int:
    """Serve one app on an already bound socket until SIGTERM/SIGINT; the exit code."""
    config = uvicorn.Config(
        app,
        http=guarded_protocol(
            HeadLimits(
                max_head_bytes=settings.max_head_bytes,
                max_headers=settings.max_headers,
                head_timeout=settings.head_timeout,
                body_timeout=settings.body_timeout,
            )
        ),
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, round(settings.graceful_timeout)),
        timeout_keep_alive=max(1, round(settings.keepalive_timeout)),
    )
    plane = data_plane(app)

    def on_drain() -> None:
        plane.draining = True

    service = grpc_service(app)
    server = DrainingServer(
        config,
        drain_seconds=settings.drain_seconds,
        on_drain=on_drain,
        grpc=None if service is None else GrpcListener(service, settings),
    )
    signal.signal(signal.SIGTERM, _after_shutdown)
    signal.signal(signal.SIGINT, _after_shutdown)
    server.run(sockets=[sock])
    code = 0 if server.started and not server.failed else 1
    computing = offload.running()
    if computing:
        # Requests the graceful timeout cancelled while a worker thread computed them: the
        # interpreter would wait for those threads at exit, past the grace period. Leave now.
        _log.warning("abandoning computations in progress", extra={"computations": computing})
        logging.shutdown()
        os._exit(code)
    return code


def run(settings: ServeSettings, *, predictor_factory: str = DEFAULT_PREDICTOR_FACTORY) -> int:
    """``model-api serve``: the process exit code."""
    json_logging.configure(settings.log_level)
    try:
        if settings.workers == 1:
            app = build_app(settings, predictor_factory)
            sock = bind_socket(settings.host, settings.port)
            _log.info("listening", extra={"host": settings.host, "port": sock.getsockname()[1]})
            return serve_app(app, settings, sock)
        sock = bind_socket(settings.host, settings.port)
    except StartupError as exc:
        _log.error(str(exc))
        return 1
    return _supervise(settings, predictor_factory, sock)


def _worker(settings: ServeSettings, predictor_factory: str, sock: socket.socket) -> None:
    """Entry point of one worker process."""
    # Own process group: a terminal's Ctrl-C reaches only the supervisor, which then forwards
    # exactly one signal (uvicorn treats a second SIGINT as "force quit").
    os.setpgrp()
    json_logging.configure(settings.log_level)
    try:
        app = build_app(settings, predictor_factory)
    except StartupError as exc:
        _log.error(str(exc))
        sys.exit(1)
    sys.exit(serve_app(app, settings, sock))


def _supervise(settings: ServeSettings, predictor_factory: str, sock: socket.socket) -> int:
    """Start the workers, forward SIGTERM (drain) or SIGINT (no drain) to each, wait for them.

    If a worker exits on its own (model load failure, crash) the others are stopped too and the
    supervisor exits non-zero, so the orchestrator restarts the whole unit.
    """
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=_worker, args=(settings, predictor_factory, sock), name=f"model-api-{i}"
        )
        for i in range(settings.workers)
    ]
    stop = threading.Event()
    forward = [signal.SIGTERM]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            forward[0] = signal.Signals(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for worker in workers:
            worker.start()
        sock.close()  # the workers hold their own copies
        _log.info("workers started", extra={"workers": len(workers), "port": settings.port})
        _log.warning(
            "each worker keeps its own metrics; a /metrics scrape sees one worker "
            "(run one worker per pod in Kubernetes, see docs/METRICS.md)"
        )
        failed = 0
        while not stop.is_set():
            multiprocessing.connection.wait([w.sentinel for w in workers], timeout=0.5)
            exited = [w for w in workers if w.exitcode is not None]
            if exited:
                failed = exited[0].exitcode or 1
                _log.error(
                    "a worker exited; stopping the others",
                    extra={"worker": exited[0].name, "exitcode": exited[0].exitcode},
                )
                break
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, forward[0])
        deadline = (
            time.monotonic() + settings.drain_seconds + settings.graceful_timeout + _KILL_MARGIN
        )
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
        return failed
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
