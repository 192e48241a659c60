"""OIP v2 over gRPC: ``inference.GRPCInferenceService`` on the data plane the HTTP routes use.

The server is ``grpc.aio`` on the event loop that runs uvicorn, started and stopped with it
(service.server): one process, one data plane, one readiness. A call is handled like an HTTP
request: the same validation (:mod:`service.grpc.codec` hands the request to
:mod:`service.protocol.oip`), the same bearer token (``authorization`` metadata), the same
metrics (route label ``grpc:<Method>``, method ``POST``, the status the HTTP twin would answer)
and the same access log. Refusals keep their message and map to gRPC status codes by the HTTP
status they carry (:data:`STATUS_CODES`).

Handlers are registered under the upstream service name with a generic handler rather than
protoc's servicer stubs: the messages live in their own protobuf package (see oip.proto).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import DecodeError

from service import errors
from service.auth import BearerAuth
from service.dataplane import DataPlane
from service.errors import ApiError
from service.grpc import codec, oip_pb2
from service.instrumentation import request_id
from service.routes.http import decode  # large requests decode on a worker thread, as over HTTP

SERVICE = "inference.GRPCInferenceService"
ROUTE_PREFIX = "grpc:"
# HTTP status of a refusal -> gRPC status code of the same refusal.
STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE,
}
_REQUEST_ID_KEY = "x-request-id"
# Trailing metadata of ModelInfer answers: the id POST /feedback takes (X-Prediction-ID on HTTP).
PREDICTION_ID_METADATA = "x-prediction-id"
_log = logging.getLogger("model_api.grpc")

Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def status_code(http_status: int) -> grpc.StatusCode:
    return STATUS_CODES.get(http_status, grpc.StatusCode.INTERNAL)


class InferenceService:
    """The six OIP v2 methods, each a thin shape around the data plane."""

    def __init__(
        self,
        plane: DataPlane,
        *,
        server_name: str,
        server_version: str,
        extensions: list[str],
        auth: BearerAuth | None,
        max_rows: int,
    ) -> None:
        self.plane = plane
        self.auth = auth
        self.max_rows = max_rows
        self._server_metadata = oip_pb2.ServerMetadataResponse(
            name=server_name, version=server_version, extensions=extensions
        )

    async def server_live(
        self, request: oip_pb2.ServerLiveRequest, context: grpc.aio.ServicerContext
    ) -> oip_pb2.ServerLiveResponse:
        return oip_pb2.ServerLiveResponse(live=True)

    async def server_ready(
        self, request: oip_pb2.ServerReadyRequest, context: grpc.aio.ServicerContext
    ) -> oip_pb2.ServerReadyResponse:
        # Not ready (loading, draining) is an answer here, not an error: ready=false.
        return oip_pb2.ServerReadyResponse(ready=self.plane.unavailable() is None)

    async def model_ready(
        self, request: oip_pb2.ModelReadyRequest, context: grpc.aio.ServicerContext
    ) -> oip_pb2.ModelReadyResponse:
        try:
            self.plane.model_ready(request.name, request.version or None)
        except ApiError as error:
            if error.status != 503:
                raise  # unknown model or version: NOT_FOUND, as HTTP answers 404
            return oip_pb2.ModelReadyResponse(ready=False)
        return oip_pb2.ModelReadyResponse(ready=True)

    async def server_metadata(
        self, request: oip_pb2.ServerMetadataRequest, context: grpc.aio.ServicerContext
    ) -> oip_pb2.ServerMetadataResponse:
        return self._server_metadata

    async def model_metadata(
        self, request: oip_pb2.ModelMetadataRequest, context: grpc.aio.ServicerContext
    ) -> oip_pb2.ModelMetadataResponse:
        schema = self.plane.model(request.name, request.version or None)
        info = self.plane.info
        return codec.metadata_response(
            name=info.name, version=info.version, platform=info.runtime, schema=schema
        )

    async def model_infer(
        self, request: oip_pb2.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> oip_pb2.ModelInferResponse:
        if self.auth is not None:
            self.auth.check(_metadata(context, "authorization"))
        schema = self.plane.model(request.model_name, request.model_version or None)
        size = sum(len(raw) for raw in request.raw_input_contents)
        parsed = await decode(size, lambda: codec.infer_request(request, schema))
        rows = parsed.matrix.shape[0]
        if rows > self.max_rows:
            raise errors.rows_too_many(rows, self.max_rows)
        prediction = await self.plane.predict(parsed.matrix)
        info = self.plane.info
        # The prediction id POST /feedback refers to: trailing metadata, and the response id
        # when the client sent none (as the HTTP routes answer).
        context.set_trailing_metadata(((PREDICTION_ID_METADATA, prediction.id),))
        return codec.infer_response(
            model_name=info.name,
            model_version=info.version,
            request=replace(parsed, id=parsed.id or prediction.id),
            labels=prediction.labels,
            probabilities=prediction.probabilities,
        )

    def methods(self) -> dict[str, tuple[Handler, type[Any], type[Any]]]:
        """Method name -> (handler, request message, response message)."""
        return {
            "ServerLive": (
                self.server_live,
                oip_pb2.ServerLiveRequest,
                oip_pb2.ServerLiveResponse,
            ),
            "ServerReady": (
                self.server_ready,
                oip_pb2.ServerReadyRequest,
                oip_pb2.ServerReadyResponse,
            ),
            "ModelReady": (
                self.model_ready,
                oip_pb2.ModelReadyRequest,
                oip_pb2.ModelReadyResponse,
            ),
            "ServerMetadata": (
                self.server_metadata,
                oip_pb2.ServerMetadataRequest,
                oip_pb2.ServerMetadataResponse,
            ),
            "ModelMetadata": (
                self.model_metadata,
                oip_pb2.ModelMetadataRequest,
                oip_pb2.ModelMetadataResponse,
            ),
            "ModelInfer": (
                self.model_infer,
                oip_pb2.ModelInferRequest,
                oip_pb2.ModelInferResponse,
            ),
        }


def _metadata(context: grpc.aio.ServicerContext, key: str) -> bytes | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value.encode("latin-1") if isinstance(value, str) else bytes(value)
    return None


def _prediction_id(context: grpc.aio.ServicerContext) -> str | None:
    """The prediction id ModelInfer put into the trailing metadata, for the access line."""
    for name, value in context.trailing_metadata() or ():
        if name == PREDICTION_ID_METADATA:
            return str(value)
    return None


def _observed(plane: DataPlane, name: str, handler: Handler, request_type: type[Any]) -> Handler:
    """``handler`` counted, timed and access-logged like an HTTP route; refusals as statuses.

    The call takes the request's bytes and decodes them itself: a message that is not valid
    protobuf is then the client's error (``INVALID_ARGUMENT``, counted as a 400 and logged like
    any refusal), where grpc's own decoding answers ``UNKNOWN`` and logs a traceback.
    """
    route = f"{ROUTE_PREFIX}{name}"
    path = f"/{SERVICE}/{name}"
    requests = plane.instruments.requests
    decode_message = request_type.FromString
    malformed = f"the message is not a valid inference.{request_type.DESCRIPTOR.name}"

    async def call(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        start = time.perf_counter()
        requests.started()

        def record(status: int) -> None:
            seconds = time.perf_counter() - start
            requests.finished(route, "POST", status, seconds)
            plane.access_log.log(
                request_id=request_id(_metadata(context, _REQUEST_ID_KEY)),
                method="POST",
                route=route,
                path=path,
                status=status,
                seconds=seconds,
                prediction_id=_prediction_id(context) if status == 200 else None,
            )

        try:
            try:
                request = decode_message(raw)
            except DecodeError:
                raise errors.bad_request(malformed) from None
            response = await handler(request, context)
        except ApiError as error:
            status, message = error.status, error.message
        except Exception:
            _log.exception("gRPC call failed", extra={"route": route})
            status, message = 500, "internal error; see the server log"
        except BaseException:
            record(errors.CLIENT_CLOSED)  # cancelled: the client went away or the server stops
            raise
        else:
            record(200)
            return response
        # Counted before the status goes out, so a client never sees it before the metrics do.
        record(status)
        await context.abort(status_code(status), message)

    return call


class GrpcServer:
    """A ``grpc.aio`` server for :class:`InferenceService`; start and stop on the event loop."""

    def __init__(
        self,
        service: InferenceService,
        *,
        max_message_bytes: int,
        reuse_port: bool,
        max_calls: int | None = None,
        max_connection_age: float | None = None,
        connection_age_grace: float = 30.0,
    ) -> None:
        self.service = service
        self.max_message_bytes = max_message_bytes
        self.reuse_port = reuse_port
        # Calls in progress at once, including those still receiving their message; more are
        # RESOURCE_EXHAUSTED. Each pending call holds ~20 kB, and nothing else bounds how many
        # a peer opens and never completes (HTTP has its head and body timeouts instead).
        self.max_calls = max_calls
        # Seconds before a connection is asked to go away (GOAWAY; clients reconnect), and
        # then before it is closed with whatever call it still has: new replicas get a share
        # of long-lived clients, and a message that never completes does not hold a call.
        self.max_connection_age = max_connection_age
        self.connection_age_grace = connection_age_grace
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Bind ``host:port`` and start serving; the bound port (useful with port 0)."""
        options: list[tuple[str, int]] = [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            # One listener per process unless several workers share the port on purpose.
            ("grpc.so_reuseport", 1 if self.reuse_port else 0),
        ]
        if self.max_connection_age is not None:
            options += [
                ("grpc.max_connection_age_ms", round(self.max_connection_age * 1000)),
                ("grpc.max_connection_age_grace_ms", round(self.connection_age_grace * 1000)),
            ]
        server = grpc.aio.server(options=options, maximum_concurrent_rpcs=self.max_calls)
        plane = self.service.plane
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                _observed(plane, name, handler, request_type),
                request_deserializer=None,  # bytes: _observed decodes and refuses malformed ones
                response_serializer=response_type.SerializeToString,
            )
            for name, (handler, request_type, response_type) in self.service.methods().items()
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound: int = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"cannot listen for gRPC on {address}: {exc}") from None
        if not bound:
            raise OSError(f"cannot listen for gRPC on {address}")
        await server.start()
        self._server = server
        self.port = bound
        return bound

    async def stop(self, grace: float) -> None:
        """Refuse new calls at once; give calls in flight ``grace`` seconds, then cancel them."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None
