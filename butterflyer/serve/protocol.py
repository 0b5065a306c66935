"""uvicorn's HTTP protocol with the guards a proxy-free server needs before the app sees a request.

httptools, uvicorn's fast parser, buffers a header line of any length (a 200 MB header
was accepted, and four at once left 795 MB that was never given back) and waits for
the rest of the headers forever (400 connections sending a partial header each stayed
open). :class:`GuardedHttpTools` refuses, before the app runs:

- headers (request line included) over ``max_bytes`` in total: 431, connection closed;
- more than ``max_count`` header fields: 431;
- headers not complete ``timeout`` seconds after the connection opened or the request
  began: 408, connection closed.

The body has its own deadline in :mod:`butterflyer.serve.limits`; open connections are
bounded by uvicorn's ``limit_concurrency`` (see :func:`butterflyer.serve.server.uvicorn_config`).
Each refusal calls ``on_refused(reason)`` (the ``/metrics`` counter) and logs one DEBUG line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeaderLimits:
    max_bytes: int = 32 * 1024
    max_count: int = 100
    timeout: float = 10.0


class _Refused(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


_STATUS_TEXT = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


class GuardedHttpTools(HttpToolsProtocol):
    """``HttpToolsProtocol`` plus header size, count and time limits (configure with :meth:`with_limits`)."""

    limits = HeaderLimits()
    on_refused: Callable[[str], None] | None = None

    @classmethod
    def with_limits(cls, limits: HeaderLimits,
                    on_refused: Callable[[str], None] | None = None) -> type[GuardedHttpTools]:
        """A subclass bound to ``limits`` (uvicorn builds one protocol object per connection)."""
        return type("GuardedHttpToolsBound", (cls,), {"limits": limits, "on_refused": staticmethod(on_refused)
                                                      if on_refused else None})

    # -- the header clock -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def _start_header_clock(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.timeout, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            self._refuse(_Refused(408, "header_timeout",
                                  f"the request headers did not arrive within {self.limits.timeout:g} s"))

    # -- parser callbacks -------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        self._header_count = 0
        self._start_header_clock()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_count:
            raise _Refused(431, "too_many_headers",
                           f"more than {self.limits.max_count} header fields; send fewer")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._stop_header_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True  # what follows is the next request's head

    # -- feeding ------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._awaiting_headers:
            self._header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                self._refuse(exc.__context__)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # The parser keeps a partial header line in memory; a chunk is at most 256 kB, so stopping
        # here bounds what one connection can hold to the limit plus one chunk.
        if self._awaiting_headers and self._header_bytes > self.limits.max_bytes:
            self._refuse(_Refused(431, "headers_too_large",
                                  f"the request headers are over {self.limits.max_bytes} bytes"))

    def _refuse(self, refusal: _Refused) -> None:
        self._stop_header_clock()
        self._awaiting_headers = False
        log.debug("refused a connection from %s: %s", self.client, refusal.detail)
        if self.on_refused is not None:
            self.on_refused(refusal.reason)
        body = json.dumps({"error": refusal.reason, "detail": refusal.detail}).encode()
        head = (f"HTTP/1.1 {refusal.status} {_STATUS_TEXT[refusal.status]}\r\n"
                "content-type: application/json\r\nconnection: close\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode()
        if not self.transport.is_closing():
            self.transport.write(head + body)
            self.transport.close()
