"""Chat latency: p50/p95 per answer over the team's question sets, and where the time goes.

Run: ``.venv/bin/python benchmarks/bench_chat.py [--threads 2] [--repeat 1]``. Uses the packaged
guide and the index under ``$BUTTERFLYER_HOME/cache/chat-index`` (built on first use, not timed
as answer latency). Prints, from one run: engine start-up, p50/p95 answer latency, the query
encoder's own p50 (the dominant cost) and the ratio of the two. Target: p50 <= 200 ms on 2 cores.
Timings on a shared machine are noisy; compare the ratios printed side by side.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target is 2 cores)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the question set")
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from butterflyer.chat.answer import ChatEngine
    from butterflyer.chat.evaluate import load_questions

    start = time.perf_counter()
    engine = ChatEngine()
    startup = time.perf_counter() - start
    questions = [q for qs in load_questions().values() for q in qs]
    engine.ask("warm up: what does a monarch eat?")

    answer_ms, encode_ms = [], []
    for _ in range(args.repeat):
        for q in questions:
            t0 = time.perf_counter()
            engine.ask(q.question, species_id=q.species)
            answer_ms.append((time.perf_counter() - t0) * 1000)
            t1 = time.perf_counter()
            engine.encoder.encode([q.question])
            encode_ms.append((time.perf_counter() - t1) * 1000)
    a, e = np.array(answer_ms), np.array(encode_ms)
    built = "build" if engine.index.rebuilt else "open"
    print(f"questions: {len(questions)} x {args.repeat}  threads: {args.threads}  "
          f"chunks: {len(engine.index.chunks)}")
    print(f"engine start-up (model load + index {built}): {startup:.1f} s")
    print(f"answer latency   p50 {np.percentile(a, 50):7.1f} ms   p95 {np.percentile(a, 95):7.1f} ms")
    print(f"encoder alone    p50 {np.percentile(e, 50):7.1f} ms   p95 {np.percentile(e, 95):7.1f} ms")
    print(f"encoder share of p50 answer: {np.percentile(e, 50) / np.percentile(a, 50):.2f}")
    print(f"target p50 <= 200 ms: {'met' if np.percentile(a, 50) <= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
