"""Run the app with uvicorn: ``serve(settings)`` is what ``butterflyer serve`` and ``butterflyer up`` call.

:func:`uvicorn_config` holds every protection that lives below the app: bounded
request headers and a deadline to send them (:mod:`butterflyer.serve.protocol`),
bounded open connections (uvicorn's ``limit_concurrency``: 503 past it) and the
keep-alive timeout. The tests start their loopback servers with it too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from butterflyer.serve.app import create_app
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.settings import ServeSettings

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI


def single_threaded_blas() -> None:
    """Keep numpy's BLAS (the gate's one small matrix product per photo) on one thread, process-wide.

    The server already runs several photos at once; BLAS worker threads that wake for each
    product and then spin took the CPU those photos needed (measured side by side: 131 vs
    197 req/s, 14.8 vs 8.9 ms of server CPU per answer).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def uvicorn_config(app: FastAPI, settings: ServeSettings, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration for ``app``: guarded HTTP protocol and connection limits."""
    import uvicorn

    from butterflyer.serve.protocol import GuardedHttpTools, HeaderLimits

    metrics = getattr(app.state, "metrics", None)
    protocol = GuardedHttpTools.with_limits(
        HeaderLimits(settings.max_header_bytes, settings.max_headers, settings.header_timeout),
        on_refused=metrics.count_event if metrics is not None else None)
    options: dict[str, Any] = dict(host=settings.host, port=settings.port, access_log=False, http=protocol,
                                   limit_concurrency=settings.max_connections,
                                   timeout_keep_alive=settings.keep_alive,
                                   h11_max_incomplete_event_size=settings.max_header_bytes)
    options.update(overrides)
    return uvicorn.Config(app, **options)


def serve(settings: ServeSettings, holder: ModelHolder | None = None, log_level: str = "info") -> None:
    """Serve until interrupted. One worker process: the model holder and its swaps live in it.

    Two uvicorn worker processes (one inference each) answered 28 % fewer requests than one
    process with two inferences at once on 2 cores (152 vs 211 req/s, side by side): the
    kernel hands the keep-alive connections to the workers unevenly (one used 2.8x the
    other's CPU), so one queues while the other idles. Separate processes would also each
    need their own metrics and model swaps.
    """
    import uvicorn

    single_threaded_blas()
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, holder, warm_chat=True)
    uvicorn.Server(uvicorn_config(app, settings, log_level=log_level)).run()
