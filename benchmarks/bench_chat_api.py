"""Chat latency through the HTTP API: p50/p95 of ``POST /v1/chat`` over the visitors' questions.

Run on two cores: ``taskset -c 0,1 .venv/bin/python benchmarks/bench_chat_api.py [--repeat 2]``.
The app is the real one (``create_app``) with only the chat router; the engine (MiniLM from its
package, offline, plus the index under ``$BUTTERFLYER_HOME/cache/chat-index``) loads before timing,
so start-up is reported separately. Each request goes through FastAPI's request parsing,
validation and JSON encoding (``TestClient``, in-process, no network). Target: p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="passes over the question set")
    parser.add_argument("--dev-only", action="store_true",
                        help="time only the dev questions (visitors_dev + visitors_extra_dev), so that a "
                             "tuning session never computes the bot's answers to the held-out ones")
    args = parser.parse_args()

    import numpy as np
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from butterflyer.chat.evaluate import EVAL_DIR, load_questions
    from butterflyer.serve.routes import chat

    start = time.perf_counter()
    chat.warm_up()
    startup = time.perf_counter() - start
    app = FastAPI()
    app.include_router(chat.router)
    client = TestClient(app)
    patterns = ("visitors_*dev.yaml",) if args.dev_only else ("visitors_dev.yaml", "visitors_heldout.yaml")
    questions = [q for pattern in patterns
                 for qs in load_questions(EVAL_DIR, pattern).values() for q in qs]
    client.post("/v1/chat", json={"message": "warm up: what does a monarch eat?"})
    ms = []
    for _ in range(args.repeat):
        for q in questions:
            body = {"message": q.question, **({"species_id": q.species} if q.species else {})}
            t0 = time.perf_counter()
            response = client.post("/v1/chat", json=body)
            ms.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{q.question!r}: HTTP {response.status_code} {response.text[:200]}")
    a = np.array(ms)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"requests: {len(a)}  cores usable: {cores}  load: {os.getloadavg()[0]:.1f}  "
          f"engine start-up: {startup:.1f} s")
    print(f"POST /v1/chat  p50 {np.percentile(a, 50):6.1f} ms   p95 {np.percentile(a, 95):6.1f} ms   "
          f"max {a.max():6.1f} ms")
    print(f"target p50 <= 50 ms: {'met' if np.percentile(a, 50) <= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
