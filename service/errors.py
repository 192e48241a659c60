"""Errors the HTTP layer answers with, and their two wire formats.

Parsing code raises :class:`ApiError`; the routes render it either in the MLflow scoring
protocol's shape (``{"error_code": ..., "message": ...}``) or in the Open Inference Protocol's
(``{"error": ...}``). Messages name the problem (column, row, limit) but never repeat the request
body or a stack trace.
"""

from __future__ import annotations

import orjson

# MLflow ``ErrorCode`` names used by its scoring server (see docs/SERVICE.md for the mapping).
BAD_REQUEST = "BAD_REQUEST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
UNAUTHENTICATED = "UNAUTHENTICATED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_LIMIT_EXCEEDED = "RESOURCE_LIMIT_EXCEEDED"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
# Not an MLflow code: the client closed the connection before the answer (nginx's 499). Nobody
# reads the body; the status keeps hang-ups apart from server errors in the metrics.
CLIENT_CLOSED_REQUEST = "CLIENT_CLOSED_REQUEST"
CLIENT_CLOSED = 499
INTERNAL_ERROR = "INTERNAL_ERROR"

# Longest excerpt of a client-supplied value quoted back in a message.
_QUOTE_LIMIT = 40


class ApiError(Exception):
    """A request the API refuses: HTTP status, MLflow error code and a human message."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message


def bad_request(message: str) -> ApiError:
    """Malformed request (syntax, structure, type conversion): 400 ``BAD_REQUEST``."""
    return ApiError(400, BAD_REQUEST, message)


def invalid_value(message: str) -> ApiError:
    """Well-formed request that does not fit the signature: 400 ``INVALID_PARAMETER_VALUE``."""
    return ApiError(400, INVALID_PARAMETER_VALUE, message)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, BAD_REQUEST, message)


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        413, RESOURCE_LIMIT_EXCEEDED, f"request body exceeds the limit of {limit} bytes"
    )


def rows_too_many(rows: int, limit: int) -> ApiError:
    return ApiError(
        413,
        RESOURCE_LIMIT_EXCEEDED,
        f"the request holds {rows} rows, more than the limit of {limit} rows per request",
    )


def decoded_too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        RESOURCE_LIMIT_EXCEEDED,
        f"the body decodes to {size} bytes, more than the limit of {limit} decoded bytes",
    )


def body_timeout(seconds: float) -> ApiError:
    return ApiError(
        408, REQUEST_TIMEOUT, f"the request body did not arrive within {seconds:g} seconds"
    )


def client_closed() -> ApiError:
    return ApiError(CLIENT_CLOSED, CLIENT_CLOSED_REQUEST, "the client closed the connection")


def quote(value: object) -> str:
    """A short, safe rendering of one client-supplied value for an error message."""
    text = repr(value)
    if len(text) > _QUOTE_LIMIT:
        text = text[: _QUOTE_LIMIT - 3] + "..."
    return text


def mlflow_body(error: ApiError) -> bytes:
    """The MLflow scoring server's error JSON."""
    return orjson.dumps({"error_code": error.error_code, "message": error.message})


def oip_body(error: ApiError) -> bytes:
    """The Open Inference Protocol's error JSON."""
    return orjson.dumps({"error": error.message})
