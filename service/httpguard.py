"""uvicorn's httptools protocol with the limits it lacks: request-head size, header count, time.

uvicorn (0.55) over httptools accepts request heads of any size and any number of header lines,
and a connection that never completes its request head is never closed (its keep-alive timer
only runs between requests). Ten connections sending megabyte header lines cost hundreds of MB,
and idle or trickling connections hold a slot forever. This protocol adds, per connection:

* **head size** — the request line plus header lines (names and values) may total at most
  ``max_head_bytes``; more is answered ``431 Request Header Fields Too Large`` and the
  connection is closed. Bytes are counted as they arrive, so a header line that never ends is
  refused once it passes the limit, not buffered until it ends.
* **header count** — at most ``max_headers`` header lines (431 likewise).
* **head time** — from the moment a connection opens (or its next request begins) the request
  head must be complete within ``head_timeout`` seconds; otherwise the connection is closed, with
  ``408 Request Timeout`` when part of a request had arrived.
* **body time** — a body that is still incomplete ``body_timeout`` seconds after its head ends is
  cut there: the application receives what arrived as the whole body and the scope key
  :data:`BODY_TIMED_OUT` set, and answers 408 (the body reader does,
  :func:`service.routes.http.read_body`), so the refusal is counted like any other answer. The
  timer is armed only when a body is still incomplete after a read: a request that arrives in
  one piece costs nothing.

The limits mirror what reverse proxies and other servers enforce by default (nginx: 4 x 8 KiB
header buffers, 60 s ``client_header_timeout``; Kestrel: 32 KiB, 100 headers). Body size and
body time are enforced where the body is read (:func:`service.routes.http.read_body`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_log = logging.getLogger("model_api.http")


# Set in the ASGI scope when the body timer cut the body short.
BODY_TIMED_OUT = "model_api.body_timed_out"


@dataclass(frozen=True)
class HeadLimits:
    max_head_bytes: int
    max_headers: int
    head_timeout: float
    body_timeout: float


class _HeadRefused(Exception):
    """Raised from a parser callback; ``data_received`` answers and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


def guarded_protocol(limits: HeadLimits) -> type[HttpToolsProtocol]:
    """An ``HttpToolsProtocol`` subclass enforcing ``limits`` (pass it as uvicorn's ``http``)."""

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_bytes = 0  # raw bytes of the current request head received so far
            self._head_fields = 0
            self._head_size = 0  # request line + header names and values, as parsed
            self._in_head = False  # between the first byte of a request and its last header
            self._head_timer: asyncio.TimerHandle | None = None
            self._body_timer: asyncio.TimerHandle | None = None

        # -- timers ------------------------------------------------------------------------
        def _arm_head_timer(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(limits.head_timeout, self._head_expired)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if self.transport.is_closing():
                return
            if self._in_head:
                self._refuse(408, "the request head did not arrive in time")
            else:
                self.transport.close()  # opened (or kept alive) and never sent a request

        def _body_expired(self) -> None:
            self._body_timer = None
            cycle = self.cycle
            if cycle is None or not cycle.more_body or self.transport.is_closing():
                return
            self.scope[BODY_TIMED_OUT] = True  # type: ignore[literal-required]
            cycle.more_body = False
            cycle.keep_alive = False
            cycle.message_event.set()

        def _disarm_body_timer(self) -> None:
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None

        # -- connection --------------------------------------------------------------------
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            self._disarm_body_timer()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # uvicorn arms its keep-alive timer here; ours restarts with the next request.
            self._disarm_head_timer()

        def data_received(self, data: bytes) -> None:
            # uvicorn's data_received, with the head limits checked around the parser.
            self._unset_keepalive_if_required()
            if self._in_head or self.cycle is None or self.cycle.response_complete:
                self._head_bytes += len(data)
            try:
                self.parser.feed_data(data)
            except _HeadRefused as refused:  # raised directly by a callback (httptools >= 0.6)
                self._refuse(refused.status, refused.message)
                return
            except httptools.HttpParserError as exc:
                cause = exc.__context__ or exc.__cause__
                if isinstance(cause, _HeadRefused):
                    self._refuse(cause.status, cause.message)
                    return
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            if self._in_head and self._head_bytes > limits.max_head_bytes:
                # A head line that has not ended yet: the parser buffers it, so stop here.
                self._refuse(431, _too_large(limits))
            elif (
                self._body_timer is None
                and not self._in_head
                and self.cycle is not None
                and self.cycle.more_body
                and not self.cycle.response_complete
            ):
                self._body_timer = self.loop.call_later(limits.body_timeout, self._body_expired)

        # -- parser callbacks ----------------------------------------------------------------
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._head_fields = 0
            self._head_size = 0
            self._arm_head_timer()

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            if self._head_size > limits.max_head_bytes:
                raise _HeadRefused(431, _too_large(limits))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_fields += 1
            if self._head_fields > limits.max_headers:
                raise _HeadRefused(
                    431, f"more than {limits.max_headers} header fields in the request"
                )
            self._head_size += len(name) + len(value) + 4  # ": " and CRLF
            if self._head_size > limits.max_head_bytes:
                raise _HeadRefused(431, _too_large(limits))
            super().on_header(name, value)

        def on_message_complete(self) -> None:
            self._disarm_body_timer()
            super().on_message_complete()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._disarm_head_timer()
            super().on_headers_complete()

        # -- answers -------------------------------------------------------------------------
        def _refuse(self, status: int, message: str) -> None:
            _log.warning(
                "request refused before the application",
                extra={"status": status, "reason": message},
            )
            body = message.encode("ascii")
            head = (
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n"
                % (status, _REASONS[status], len(body))
            )
            self._in_head = False
            self._disarm_head_timer()
            self.transport.write(head + body)
            self.transport.close()

    return GuardedHttpToolsProtocol


def _too_large(limits: HeadLimits) -> str:
    return f"the request line and headers exceed {limits.max_head_bytes} bytes"
