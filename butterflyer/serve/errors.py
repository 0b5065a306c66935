"""Our errors to HTTP statuses with a short reason; nothing a client sends becomes a 500.

``ImageError`` reasons map as: ``not_an_image`` 415; ``empty``, ``truncated``,
``too_small``, ``too_large`` (decompression bombs) 422. Bodies over the upload
limit are 413, a body that arrives too slowly 408, a missing model 503, a full
queue 503 with ``Retry-After``. Details never carry Python object reprs
(``<_io.BytesIO object at 0x...>``): :func:`public_detail` removes them. A client
that disconnects mid-request is not an error: no traceback, no ERROR line.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from butterflyer.errors import ButterflyerError, ConfigError, ImageError, ModelError
from butterflyer.serve.limits import SlowUpload, too_large_message

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")
IMAGE_STATUS = {"not_an_image": 415, "empty": 422, "truncated": 422, "too_small": 422, "too_large": 422}


class UploadTooLarge(ButterflyerError):
    """The request body is over ``max_upload_bytes``."""

    def __init__(self, limit: int) -> None:
        super().__init__(too_large_message(limit))
        self.limit = limit


class Busy(ButterflyerError):
    """Too many requests are already waiting for the model."""


class TooMuchWork(ButterflyerError):
    """One request asks for more work than a request may (e.g. many instances with explain)."""


class BadRequest(ButterflyerError):
    """The request is malformed (no file, wrong form field)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def public_detail(text: str) -> str:
    """``text`` without Python object reprs (they leak internals and help nobody fix a request)."""
    return _REPR.sub("the upload", text)


def error_response(status: int, reason: str, detail: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (429, 503) else None
    return JSONResponse(status_code=status, content={"error": reason, "detail": public_detail(detail)},
                        headers=headers)


def status_for(exc: Exception) -> tuple[int, str]:
    """The HTTP status and reason for one of our exceptions."""
    from butterflyer.serve.holder import NotReady

    if isinstance(exc, ImageError):
        return IMAGE_STATUS.get(exc.reason, 422), exc.reason
    if isinstance(exc, UploadTooLarge):
        return 413, "too_large_upload"
    if isinstance(exc, BadRequest):
        return 400, exc.reason
    if isinstance(exc, SlowUpload):
        return 408, "slow_upload"
    if isinstance(exc, TooMuchWork):
        return 413, "too_much_work"
    if isinstance(exc, Busy):
        return 503, "busy"
    if isinstance(exc, NotReady | ModelError):
        return 503, "model_unavailable"
    if isinstance(exc, ConfigError):
        return 400, "bad_setting"
    return 500, "internal_error"


def install_handlers(app: FastAPI) -> None:
    """Register JSON error handlers: our errors, validation errors and, last, anything else."""

    async def ours(_request: Request, exc: Exception) -> JSONResponse:
        status, reason = status_for(exc)
        return error_response(status, reason, str(exc))

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        where = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in errors)
        return error_response(422, "invalid_request", where or str(exc))

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side; the error is logged")

    async def http(_request: Request, exc: Exception) -> JSONResponse:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "")
        if isinstance(detail, dict) and "error" in detail:
            return error_response(status, str(detail["error"]), str(detail.get("detail", "")))
        return error_response(status, f"http_{status}", str(detail))

    async def gone(request: Request, _exc: Exception) -> Response:
        # counted and logged once by the body guard (limits.py); nobody is left to read an answer
        log.debug("%s %s: client disconnected", request.method, request.url.path)
        return Response(status_code=400)

    app.add_exception_handler(ClientDisconnect, gone)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(ButterflyerError, ours)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)
