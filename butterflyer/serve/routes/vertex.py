"""``POST /v1/vertex/predict``: the Vertex AI custom-container prediction route.

Vertex AI sends ``{"instances": [{"b64": "<base64 image>"}, ...]}`` and expects
``{"predictions": [...]}`` in the same order. Each prediction is the same object
``POST /v1/identify`` returns; an instance that is not a usable image gets
``{"error": reason, "detail": how to fix}`` in its place, so one bad photo never
fails the whole batch.

Admission is the same as ``/v1/identify``'s, counted per instance: a batch is
refused with 503 and ``Retry-After`` when its instances would push the inference
queue past ``max_queue``, and with 413 when it asks for heatmaps (the slowest
work) on more than :data:`MAX_EXPLAIN_INSTANCES` instances.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from butterflyer.errors import ButterflyerError
from butterflyer.serve.deps import HolderDep, SettingsDep
from butterflyer.serve.errors import Busy, TooMuchWork, public_detail, status_for

router = APIRouter(prefix="/v1/vertex", tags=["vertex"])

MAX_INSTANCES = 32
MAX_EXPLAIN_INSTANCES = 4  # one heatmap costs several plain answers


class Instance(BaseModel):
    b64: str = Field(description="the photo's bytes, base64-encoded")


class PredictRequest(BaseModel):
    instances: list[Instance] = Field(min_length=1, max_length=MAX_INSTANCES)
    parameters: dict[str, Any] | None = None


class PredictResponse(BaseModel):
    predictions: list[dict[str, Any]]


def _decode_b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the instance's 'b64' field is not valid base64") from exc


@router.post("/predict", response_model=PredictResponse, summary="Vertex AI prediction (base64 images)")
async def predict(body: PredictRequest, request: Request, holder: HolderDep,
                  settings: SettingsDep) -> PredictResponse:
    identifier = holder.get()  # one model for the whole batch, even across a swap
    explain = bool((body.parameters or {}).get("explain", False)) and settings.explain
    count = len(body.instances)
    if explain and count > MAX_EXPLAIN_INSTANCES:
        raise TooMuchWork(f"explain is allowed on at most {MAX_EXPLAIN_INSTANCES} instances per request "
                          f"(got {count}); split the batch or drop 'explain'")
    limiter = request.app.state.limiter
    waiting = limiter.statistics().tasks_waiting
    if waiting + count > settings.max_queue:
        raise Busy(f"{waiting} photos are already waiting and this batch adds {count} "
                   f"(limit {settings.max_queue}); try again in a moment")

    def run_one(instance: Instance) -> dict[str, Any]:
        try:
            data = _decode_b64(instance.b64)
        except ValueError as exc:
            return {"error": "bad_base64", "detail": str(exc)}
        try:
            return identifier.identify_bytes(data, explain=explain).model_dump(mode="json")
        except ButterflyerError as exc:
            return {"error": status_for(exc)[1], "detail": public_detail(str(exc))}

    predictions = [await anyio.to_thread.run_sync(run_one, inst, limiter=limiter) for inst in body.instances]
    return PredictResponse(predictions=predictions)
