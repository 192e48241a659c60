"""What the route modules share: the direct route class, the bounded body reader, responses.

Error responses come in two shapes (:func:`service.errors.mlflow_body` and
:func:`service.errors.oip_body`); :func:`error_for_path` picks the one of the route family a
path belongs to, for errors raised outside the handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import starlette.routing
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from service import errors, offload
from service.auth import BearerAuth
from service.errors import ApiError
from service.httpguard import BODY_TIMED_OUT
from service.protocol import openapi

JSON = "application/json"
# Names the prediction on /invocations and v2 infer answers; POST /feedback refers to it.
PREDICTION_ID_HEADER = "x-prediction-id"
Endpoint = Callable[..., Coroutine[Any, Any, Response]]
T = TypeVar("T")
# Bodies up to this size are decoded on the event loop (well under a millisecond for JSON);
# larger ones in a worker thread, so one big CSV or JSON body never stalls health checks and
# the other requests (1 MiB of tiny CSV rows takes over a second to parse).
INLINE_DECODE_BYTES = 64 * 1024


@dataclass(frozen=True)
class BodyLimits:
    """What one request body may cost: bytes on the wire, seconds, rows, decoded bytes."""

    max_bytes: int
    timeout: float
    max_rows: int
    max_decoded_bytes: int


class DirectRoute(APIRoute):
    """An APIRoute whose handler passes the Request (and path parameters) straight through.

    FastAPI still documents the route in OpenAPI, but skips per-request dependency solving and
    response serialization, which these endpoints do not use: they read the raw body
    themselves and return a finished Response. On one-row requests this is a large share of
    the per-request cost (see docs/SERVICE.md, Performance design). FastAPI documents custom
    ``route_class`` handlers as an extension point.

    The handler's only inputs are the request and the path parameters, so that is all the
    route documents: the parameters of the path template (never a query parameter made up
    from an optional argument of the endpoint), and no FastAPI 422, which it cannot answer.
    Bodies and responses are described by :mod:`service.protocol.openapi`.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        kwargs["response_class"] = Response  # no default JSON 200: ``responses`` says it all
        super().__init__(path, endpoint, **kwargs)
        # Documentation only: the handler below never solves this dependant.
        self.dependant = Dependant(call=endpoint, path=self.path_format)
        names = list(self.param_convertors)
        if names:
            extra["parameters"] = openapi.path_parameters(names)
        self.openapi_extra = extra or None
        # Starlette's plain request/response adapter: FastAPI's adds two AsyncExitStacks per
        # request for dependencies with ``yield``, which these routes do not have.
        self.app = starlette.routing.request_response(self.get_route_handler())

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request, **request.path_params)
            return response

        return handler


class InferenceShortcut:
    """ASGI middleware that answers POST requests to the inference routes itself.

    Installed just inside :class:`service.instrumentation.ObservabilityMiddleware` (so every
    request is still counted, timed and logged, and an unhandled exception still reaches
    FastAPI's error handler as a 500), it skips what the rest of the stack would do for a
    request whose answer it already knows how to produce: the router's scan of every route,
    Starlette's exception middleware, FastAPI's exit-stack middleware and the per-request
    exception wrapper of the route. None of them acts on these routes: their endpoints turn
    every refusal into a response themselves and never raise ``HTTPException``. The route
    still decides what it matches (its own ``matches``, path parameters and method), and puts
    itself into the scope as the router would, for the metrics' route label.
    """

    def __init__(self, app: ASGIApp, *, routes: Sequence[APIRoute]) -> None:
        self.app = app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for candidate in self.routes:
                match, child = candidate.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    request = Request(scope, receive, send)
                    response = await candidate.endpoint(request, **scope["path_params"])
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def route(
    app: FastAPI,
    path: str,
    *,
    method: str = "GET",
    tags: list[str],
    summary: str,
    responses: dict[int | str, Any],
    body: dict[str, Any] | None = None,
    secured: bool = False,
    status: int = 200,
    operation_id: str | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Register ``endpoint(request, **path_parameters)`` as a :class:`DirectRoute`.

    On the app's own router (an included router would be one more level of matching per
    request); ``responses`` and ``body`` are the operation's OpenAPI objects, ``status`` the
    success status among them, ``secured`` adds the bearer-token requirement (set when a token
    file is configured).
    """

    def register(endpoint: Endpoint) -> Endpoint:
        extra: dict[str, Any] = {}
        if body is not None:
            extra["requestBody"] = body
        if secured:
            extra["security"] = [{"bearer": []}]
        app.router.add_api_route(
            path,
            endpoint,
            methods=[method],
            tags=list(tags),
            summary=summary,
            responses=responses,
            status_code=status,
            operation_id=operation_id,
            openapi_extra=extra,
            route_class_override=DirectRoute,
        )
        return endpoint

    return register


def inference_route(
    app: FastAPI,
    path: str,
    *,
    tags: list[str],
    summary: str,
    body: dict[str, Any],
    responses: dict[int | str, Any],
    authorize: Authorize,
    family: str,
    status: int = 200,
    operation_id: str | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """A POST :func:`route` that takes a body; secured (and 401 listed) when ``authorize``
    checks a token. ``family`` (``mlflow`` or ``oip``) is the shape of the route's errors."""
    if authorize.required:
        responses = {**responses, 401: openapi.error_response(family, 401)}
    return route(
        app,
        path,
        method="POST",
        tags=tags,
        summary=summary,
        responses=responses,
        body=body,
        secured=authorize.required,
        status=status,
        operation_id=operation_id,
    )


class Authorize:
    """The bearer-token check of the inference routes (a no-op without a token file)."""

    def __init__(self, auth: BearerAuth | None) -> None:
        self.auth = auth

    @property
    def required(self) -> bool:
        return self.auth is not None

    def __call__(self, request: Request) -> None:
        if self.auth is not None:
            header = request.headers.get("authorization")
            self.auth.check(None if header is None else header.encode("latin-1"))


def authorizer(auth: BearerAuth | None) -> Authorize:
    return Authorize(auth)


async def read_body(request: Request, limits: BodyLimits) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed the byte limit.

    ``Content-Length`` is checked before reading; chunked bodies are counted while they arrive.
    A client that hangs up before its body is complete gets status 499 (nobody reads it: it
    only keeps hang-ups apart from server errors in the metrics); a body that is still
    incomplete after ``limits.timeout`` seconds gets 408 (:mod:`service.httpguard` cuts it).
    """
    limit = limits.max_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise errors.bad_request("invalid Content-Length header")
        if int(declared) > limit:
            raise errors.body_too_large(limit)
    # Common case first: the whole body in one ASGI message.
    message = await request.receive()
    first: bytes = message.get("body", b"")
    if len(first) > limit:
        raise errors.body_too_large(limit)
    if message["type"] != "http.request":
        raise errors.client_closed()
    if not message.get("more_body", False):
        if request.scope.get(BODY_TIMED_OUT):
            raise errors.body_timeout(limits.timeout)
        return first
    chunks = [first]
    size = len(first)
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.body_too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise errors.client_closed() from None
    if request.scope.get(BODY_TIMED_OUT):
        raise errors.body_timeout(limits.timeout)
    return b"".join(chunks)


async def decode(size: int, parse: Callable[[], T]) -> T:
    """``parse()`` of a ``size``-byte body: inline when small, in a worker thread when large."""
    if size <= INLINE_DECODE_BYTES:
        return parse()
    return await offload.run(parse)


def json_response(payload: object, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON)


def mlflow_error(error: ApiError) -> Response:
    """``error`` in the MLflow scoring protocol's shape."""
    return Response(errors.mlflow_body(error), error.status, _error_headers(error), media_type=JSON)


def oip_error(error: ApiError) -> Response:
    """``error`` in the Open Inference Protocol's shape."""
    return Response(errors.oip_body(error), error.status, _error_headers(error), media_type=JSON)


def error_for_path(path: str, error: ApiError) -> Response:
    """``error`` in the protocol of the route family ``path`` belongs to."""
    return oip_error(error) if path.startswith("/v2") else mlflow_error(error)


def _error_headers(error: ApiError) -> dict[str, str] | None:
    if error.status == 401:
        return {"www-authenticate": "Bearer"}
    if error.status in (408, 413):
        # The rest of the body stays unread: do not reuse the connection.
        return {"connection": "close"}
    return None
