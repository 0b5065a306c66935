"""``GET /v1/model`` (what is being served) and ``POST /v1/model/reload`` (promotion hook).

``/v1/model`` names the model by registry name, version, ``models:/`` URI and the
sha256 of the served file; the server's folders are never shown.

Reloading is off unless ``BUTTERFLYER_ADMIN_TOKEN`` is set; then it needs the header
``Authorization: Bearer <token>``: the ``Bearer`` scheme is required (a bare token is
refused) and the token is compared in constant time (``hmac.compare_digest``), so
response timing says nothing about how much of a guess was right. The background
refresh needs neither.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from pathlib import Path

import anyio
from fastapi import APIRouter, Header, HTTPException

from butterflyer.serve.deps import HolderDep
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.schemas import ErrorBody, ModelInfo

router = APIRouter(prefix="/v1", tags=["model"])
ADMIN_TOKEN_ENV = "BUTTERFLYER_ADMIN_TOKEN"


@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # size and mtime make a replaced file a new key
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, computed once per file version."""
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def public_uri(uri: str) -> str:
    """A registry URI as it is; anything else (a folder on this server) is not shown."""
    return uri if uri.startswith("models:/") else "(local folder)"


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; ``None`` for any other form."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def model_info(holder: ModelHolder) -> ModelInfo:
    """What the holder serves now (raises ``NotReady`` when nothing is loaded)."""
    current = holder.get()
    meta = current.model.meta
    return ModelInfo(name=current.model.name, version=current.model.version,
                     uri=public_uri(current.model.uri), sha256=file_sha256(current.model.onnx_path),
                     architecture=meta.architecture,
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
    given = bearer_token(authorization)
    if not token or given is None or not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(403, {"error": "forbidden",
                                  "detail": f"reloading needs {ADMIN_TOKEN_ENV} set on the server and "
                                            "'Authorization: Bearer <token>'"})
    await anyio.to_thread.run_sync(holder.refresh)
    return model_info(holder)
