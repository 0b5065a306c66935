"""``GET /v1/model`` (what is being served) and ``POST /v1/model/reload`` (promotion hook).

Reloading is off unless ``BUTTERFLYER_ADMIN_TOKEN`` is set; then it needs
``Authorization: Bearer <token>``. The background refresh needs neither.
"""

from __future__ import annotations

import hmac
import os

import anyio
from fastapi import APIRouter, Header, HTTPException

from butterflyer.serve.deps import HolderDep
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.schemas import ErrorBody, ModelInfo

router = APIRouter(prefix="/v1", tags=["model"])
ADMIN_TOKEN_ENV = "BUTTERFLYER_ADMIN_TOKEN"


def model_info(holder: ModelHolder) -> ModelInfo:
    """What the holder serves now (raises ``NotReady`` when nothing is loaded)."""
    current = holder.get()
    meta = current.model.meta
    return ModelInfo(name=current.model.name, version=current.model.version, uri=current.model.uri,
                     folder=str(current.model.folder), architecture=meta.architecture,
                     num_classes=meta.num_classes, temperature=meta.temperature,
                     gate_available=current.model.has_gate, gate_kind=current.gate.kind,
                     thresholds=current.thresholds.to_dict(),
                     gate_threshold=current.gate.threshold if current.model.has_gate else None,
                     loaded_at=current.loaded_at)


@router.get("/model", response_model=ModelInfo, responses={503: {"model": ErrorBody}},
            summary="The model being served")
def get_model(holder: HolderDep) -> ModelInfo:
    return model_info(holder)


@router.post("/model/reload", response_model=ModelInfo, responses={403: {"model": ErrorBody}},
             summary="Re-resolve the model URI now and swap if it changed")
async def reload_model(holder: HolderDep, authorization: str | None = Header(None)) -> ModelInfo:
    token = os.environ.get(ADMIN_TOKEN_ENV)
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(403, {"error": "forbidden",
                                  "detail": f"reloading needs {ADMIN_TOKEN_ENV} set on the server and "
                                            "'Authorization: Bearer <token>'"})
    await anyio.to_thread.run_sync(holder.refresh)
    return model_info(holder)
