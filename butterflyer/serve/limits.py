"""An ASGI guard on request bodies: a size limit, a deadline, and quiet client disconnects.

- Size: ``Content-Length`` over the limit is refused before any byte is read; a body
  without one (chunked) is counted as it streams, and the request ends with 413 as
  soon as it is over, so a huge upload never fills memory or disk.
- Time: the whole body must arrive within ``timeout`` seconds of the first read (a
  client sending 1 byte a second would otherwise hold a connection and a request
  slot for hours); past it the request ends with 408 and the connection closes.
- Disconnects: a client that goes away mid-upload is not a server error. It is
  counted (``on_event("client_disconnect")``, shown in ``/metrics``) and logged as
  one INFO line; :func:`butterflyer.serve.errors.install_handlers` keeps the
  exception that follows out of the ERROR log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from butterflyer.errors import ButterflyerError

log = logging.getLogger(__name__)

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_SLACK = 64 * 1024


def human_bytes(n: int) -> str:
    """``10485760`` -> ``10.5 MB``; ``50000`` -> ``50 kB``."""
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.0f} kB"


def too_large_message(limit: int) -> str:
    return (f"the upload is over the {human_bytes(limit)} limit; send a smaller photo "
            "(a phone photo resized to about 2000 px is plenty)")


class _Overflow(Exception):
    pass


class SlowUpload(ButterflyerError):
    """The request body did not arrive within the body deadline (HTTP 408)."""


class BodyLimit:
    """Guard ``POST``/``PUT``/``PATCH`` bodies: ``limit`` (+ multipart slack) bytes within ``timeout`` s."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float = 60.0,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.allowed = limit + MULTIPART_SLACK
        self.timeout = timeout
        self.on_event = on_event or (lambda _kind: None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.allowed:
                    await self._respond(send, 413, "too_large_upload")
                    return
        seen = 0
        deadline: float | None = None
        body_done = False
        refused: str | None = None  # set when we answer for the app: its own answer is dropped
        started = False

        async def guarded() -> Message:
            nonlocal seen, deadline, body_done, refused
            if body_done:
                return await receive()  # only the disconnect message is left to wait for
            if deadline is None:
                deadline = time.monotonic() + self.timeout
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                refused = "slow_upload"
                self.on_event("slow_upload")
                log.info("%s %s: the body did not arrive within %g s; answered 408",
                         scope.get("method"), scope.get("path"), self.timeout)
                raise SlowUpload(f"the upload did not arrive within {self.timeout:g} s; "
                                 "try again on a faster connection or send a smaller photo")
            if message["type"] == "http.disconnect":
                self.on_event("client_disconnect")
                log.info("%s %s: the client disconnected after %d bytes of the body",
                         scope.get("method"), scope.get("path"), seen)
                return message
            seen += len(message.get("body", b""))
            body_done = not message.get("more_body", False)
            if seen > self.allowed:
                raise _Overflow
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused is not None:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._respond(send, 408, refused)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded, tracked)
        except _Overflow:
            if not started:
                await self._respond(send, 413, "too_large_upload")

    async def _respond(self, send: Send, status: int, reason: str) -> None:

        detail = (too_large_message(self.limit) if status == 413 else
                  f"the upload did not arrive within {self.timeout:g} s; try again on a faster connection")
        body: dict[str, Any] = {"error": reason, "detail": detail}
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
