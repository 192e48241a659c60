"""JSON logs: one line per log record, one access line per request.

Everything the process logs (ours and uvicorn's) goes through one stdout handler that writes one
JSON object per line, so a log shipper needs no parsing rules. Access lines and the line that
logs a request's unhandled exception carry the request's trace and span id when there is one
(docs/OBSERVABILITY.md), so a log line leads to its trace and back.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import orjson

ACCESS_LOGGER = "model_api.access"
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Where correlate() leaves a request's ids on an exception that escapes the request.
_CORRELATION = "_model_api_log_fields"


def correlate(exc: BaseException, fields: dict[str, str]) -> None:
    """Attach a request's ids to ``exc``: the line that later logs it (uvicorn's "Exception in
    ASGI application", after the request's own code is gone) carries them as fields."""
    try:
        setattr(exc, _CORRELATION, fields)
    except (AttributeError, TypeError):  # an exception type without instance attributes
        return


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key != "color_message":
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
            fields = getattr(record.exc_info[1], _CORRELATION, None)
            if isinstance(fields, dict):
                for key, value in fields.items():
                    line.setdefault(key, value)
        return orjson.dumps(line, default=str).decode()


_second: list[Any] = [-1, ""]  # the last formatted whole second, reused within that second


def _timestamp(created: float) -> str:
    whole = int(created)
    if whole != _second[0]:
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"


def configure(level: str) -> None:
    """Route all logging (ours and uvicorn's) to stdout as JSON lines at ``level``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # uvicorn's own access lines would duplicate ours (and are not JSON).
    logging.getLogger("uvicorn.access").disabled = True


class AccessLog:
    """Writes the per-request line: request id, method, route, status, latency, model version,
    and the trace and span id (and the prediction id) when the request has them.

    The line has the same shape as every other log line, but it is written with one
    ``os.write`` to stdout instead of through ``logging.Logger.info``: building a LogRecord
    (caller lookup, thread and process names) cost more than the whole prediction on a one-row
    request. The ``model_api.access`` logger's level still switches the line on and off, and
    one write per complete line keeps lines whole next to the other handlers' output.
    """

    def __init__(self) -> None:
        self._logger = logging.getLogger(ACCESS_LOGGER)
        # Set once the model is loaded; requests answered before that log an empty version.
        self.model_version = ""

    def log(
        self,
        *,
        request_id: str,
        method: str,
        route: str,
        path: str,
        status: int,
        seconds: float,
        trace: tuple[str, str] | None = None,
        prediction_id: str | None = None,
    ) -> None:
        """One access line; ``trace`` is (trace id, span id), written as ``trace_id`` and
        ``span_id`` when known, ``prediction_id`` likewise."""
        if not self._logger.isEnabledFor(logging.INFO):
            return
        line = {
            "ts": _timestamp(time.time()),
            "level": "info",
            "logger": ACCESS_LOGGER,
            "message": "request",
            "request_id": request_id,
            "method": method,
            "route": route,
            "path": path[:200],
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            "model_version": self.model_version,
        }
        if trace is not None:
            line["trace_id"], line["span_id"] = trace
        if prediction_id is not None:
            line["prediction_id"] = prediction_id
        data = orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        # A plain try rather than contextlib.suppress: no context manager object per request.
        try:
            os.write(sys.stdout.fileno(), data)
        except (OSError, ValueError, AttributeError):
            return  # stdout closed, or replaced by an object without a file descriptor
