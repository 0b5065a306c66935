"""Run the app with uvicorn: ``serve(settings)`` is what ``butterflyer serve`` and ``butterflyer up`` call."""

from __future__ import annotations

import logging

from butterflyer.serve.app import create_app
from butterflyer.serve.holder import ModelHolder
from butterflyer.serve.settings import ServeSettings


def single_threaded_blas() -> None:
    """Keep numpy's BLAS (the gate's one small matrix product per photo) on one thread, process-wide.

    The server already runs several photos at once; BLAS worker threads that wake for each
    product and then spin took the CPU those photos needed (measured side by side: 131 vs
    197 req/s, 14.8 vs 8.9 ms of server CPU per answer).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


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
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, access_log=False,
                timeout_keep_alive=30)
