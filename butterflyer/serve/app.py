"""Assemble the service: settings, model holder, routers, static page. Nothing else lives here.

>>> app = create_app(ServeSettings.from_env(model_uri="path/to/model"))
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from butterflyer.serve.docs import install_docs
from butterflyer.serve.errors import install_handlers
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.limits import BodyLimit
from butterflyer.serve.metrics import Metrics
from butterflyer.serve.routes import health, identify, model, model_card, sightings, species, vertex
from butterflyer.serve.settings import ServeSettings

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"
CHAT_MODULE = "butterflyer.serve.routes.chat"


def create_app(settings: ServeSettings | None = None, holder: ModelHolder | None = None,
               warm_chat: bool = False) -> FastAPI:
    """The FastAPI app. The model loads at startup (a missing model leaves ``/readyz`` at 503
    and is retried every ``refresh_seconds``); pass ``holder`` to share or pre-load one.
    ``warm_chat`` loads the chat engine in the background at startup (the server does)."""
    settings = settings or ServeSettings.from_env()
    holder = holder or ModelHolder(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.limiter = anyio.CapacityLimiter(settings.max_concurrency)
        await anyio.to_thread.run_sync(holder.start)
        if warm_chat and app.state.chat_enabled:
            threading.Thread(target=_warm_chat, name="butterflyer-chat-warm-up", daemon=True).start()
        try:
            yield
        finally:
            holder.stop()

    app = FastAPI(title="ButterFlyer", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Identify butterflies and moths in photos; honest roll-up and "
                              "not-a-butterfly answers.")
    app.state.settings = settings
    app.state.holder = holder
    app.state.metrics = metrics = Metrics()
    app.state.limiter = anyio.CapacityLimiter(settings.max_concurrency)
    app.state.chat_enabled = False
    install_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes, timeout=settings.body_timeout,
                       on_event=metrics.count_event)
    install_docs(app)  # /docs from packaged assets: works offline
    for router_module in (identify, species, model, health, vertex, sightings, model_card):
        app.include_router(router_module.router)
    if settings.chat:
        _include_chat(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    @app.get("/v1/features", tags=["health"], summary="Optional parts the page can use")
    def features() -> dict[str, bool | int]:
        return {"chat": app.state.chat_enabled, "explain": settings.explain,
                "max_upload_bytes": settings.max_upload_bytes}

    return app


def _warm_chat() -> None:
    """Load the chat engine before the first question (in the background; failures are logged)."""
    try:
        warm = getattr(importlib.import_module(CHAT_MODULE), "warm_up", None)
        if warm is not None:
            warm()
    except Exception as exc:  # the chat route reports its own 503 when asked
        log.warning("chat warm-up failed: %s", exc)


def _include_chat(app: FastAPI) -> None:
    """Add the chat router when its module is installed; the page hides the panel otherwise."""
    try:
        chat = importlib.import_module(CHAT_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != CHAT_MODULE:
            log.warning("chat route not loaded: %s", exc)
        return
    except Exception as exc:  # a broken optional route must not stop identification
        log.warning("chat route failed to import (%s); serving without it", exc)
        return
    router = getattr(chat, "router", None)
    if router is not None:
        app.include_router(router)
        app.state.chat_enabled = True

