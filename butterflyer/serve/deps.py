"""Dependencies routes declare as typed aliases; everything lives on ``app.state``.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker
thread, and three thread hops per request for attribute look-ups cost more than the
look-ups themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.metrics import Metrics
from butterflyer.serve.settings import ServeSettings


async def get_settings(request: Request) -> ServeSettings:
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


SettingsDep = Annotated[ServeSettings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
