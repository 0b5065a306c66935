"""``POST /v1/identify``: a photo in, an honest answer out.

The photo comes as a multipart form field (``image``, or ``file``) or as the raw
request body with an image content type. The bytes are sniffed, never trusted by
name or header. Inference runs in a worker thread, at most
``max_concurrency`` at once, so the event loop keeps accepting requests.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile

from butterflyer.errors import ButterflyerError
from butterflyer.serve.deps import HolderDep, MetricsDep, SettingsDep
from butterflyer.serve.errors import BadRequest, Busy, UploadTooLarge, status_for
from butterflyer.serve.schemas import ErrorBody, IdentifyResult

router = APIRouter(prefix="/v1", tags=["identify"])

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["image"],
                           "properties": {"image": {"type": "string", "format": "binary"}}}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "over the upload limit"},
    415: {"model": ErrorBody, "description": "not an image (sniffed from the bytes)"},
    422: {"model": ErrorBody, "description": "empty, truncated, too small or too large (bomb) image"},
    503: {"model": ErrorBody, "description": "no model loaded yet"},
}


async def read_upload(request: Request, limit: int) -> tuple[bytes, str | None]:
    """The uploaded bytes and file name, refusing more than ``limit`` bytes."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        raise BadRequest("missing_file", "send the photo as a multipart file field named 'image' "
                         "(curl -F image=@photo.jpg) or as the raw request body")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=4, max_fields=16)
        try:
            upload = form.get("image") or form.get("file")
            if upload is None:
                upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
            if not isinstance(upload, UploadFile):
                raise BadRequest("missing_file", "send the photo as a multipart file field named 'image'")
            data = await upload.read(limit + 1)
            name = upload.filename
        finally:
            await form.close()
    else:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(limit)
            chunks.append(chunk)
        data, name = b"".join(chunks), None
    if len(data) > limit:
        raise UploadTooLarge(limit)
    return data, name


@router.post("/identify", response_model=IdentifyResult, responses=_ERRORS, openapi_extra=_UPLOAD_DOC,
             summary="Identify the butterfly or moth in a photo")
async def identify(request: Request, settings: SettingsDep, holder: HolderDep, metrics: MetricsDep,
                   explain: bool = Query(False, description="add a Grad-CAM-style heatmap (PNG data URL)"),
                   ) -> IdentifyResult:
    started = time.perf_counter()
    metrics.in_flight.inc()
    try:
        data, name = await read_upload(request, settings.max_upload_bytes)
        identifier = holder.get()  # one reference for the whole request: a model swap cannot split it
        want_heatmap = explain and settings.explain
        limiter = request.app.state.limiter
        if limiter.statistics().tasks_waiting >= settings.max_queue:
            raise Busy(f"{settings.max_queue} photos are already waiting; try again in a moment")
        result = await anyio.to_thread.run_sync(
            lambda: identifier.identify_bytes(data, explain=want_heatmap, file=name), limiter=limiter)
    except ButterflyerError as exc:
        metrics.requests.labels(outcome=status_for(exc)[1]).inc()
        raise
    finally:
        metrics.in_flight.dec()
    metrics.requests.labels(outcome="ok").inc()
    metrics.verdicts.labels(verdict=result.verdict).inc()
    if result.top_k:
        metrics.confidence.observe(result.top_k[0].probability)
    if result.gate is not None:
        metrics.gate_score.observe(result.gate.score)
    metrics.latency.observe(time.perf_counter() - started)
    return result
