"""An ASGI guard that stops reading a request body once it passes the upload limit.

``Content-Length`` over the limit is refused before any byte is read; a body
without one (chunked) is counted as it streams, and the request ends with 413
as soon as it is over, so a huge upload never fills memory or disk.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_SLACK = 64 * 1024


class _Overflow(Exception):
    pass


class BodyLimit:
    """Refuse bodies over ``limit`` (+ multipart slack) bytes on ``POST``/``PUT`` requests."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.allowed = limit + MULTIPART_SLACK

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
                    await self._refuse(send)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.allowed:
                    raise _Overflow
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _Overflow:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        from butterflyer.serve.errors import too_large_message

        body: dict[str, Any] = {"error": "too_large_upload", "detail": too_large_message(self.limit)}
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
