"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from butterflyer.serve.deps import HolderDep, MetricsDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="A model is loaded and answering",
            responses={503: {"description": "not ready"}})
def readyz(holder: HolderDep) -> JSONResponse:
    if not holder.ready:
        return JSONResponse(status_code=503, content={"status": "not_ready", "detail": holder.last_error
                                                      or "the model is still loading"})
    current = holder.get()
    return JSONResponse({"status": "ready", "model": {"name": current.model.name,
                                                      "version": current.model.version}})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(holder: HolderDep, m: MetricsDep) -> Response:
    m.ready.set(1 if holder.ready else 0)
    m.model_swaps.set(holder.swaps)
    if holder.ready:
        current = holder.get()
        m.model_info.clear()
        m.model_info.labels(name=current.model.name, version=current.model.version).set(1)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
