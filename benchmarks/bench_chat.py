"""Chat latency: p50/p95 per answer over the team's question sets, and where the time goes.

Run: ``.venv/bin/python benchmarks/bench_chat.py [--threads 1] [--repeat 1]``. Uses the packaged
guide and the index under ``$BUTTERFLYER_HOME/cache/chat-index`` (built on first use; that build
is reported as start-up, not as answer latency). Prints, from one run: start-up, p50/p95 answer
latency, and the query encoder (the dominant cost) on one and on two torch threads side by side.
Target: p50 <= 200 ms on this 2-core machine. Timings on a shared machine are noisy; compare the
ratios printed in the same run.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _encode_p50(encoder, texts: list[str], threads: int) -> tuple[float, float]:  # noqa: ANN001
    import numpy as np

    saved = encoder.threads
    encoder.threads = threads
    try:
        encoder.encode(["warm up"])
        ms = []
        for text in texts:
            t0 = time.perf_counter()
            encoder.encode([text])
            ms.append((time.perf_counter() - t0) * 1000)
    finally:
        encoder.threads = saved
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the chat encoder")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the question set")
    args = parser.parse_args()
    os.environ["BUTTERFLYER_CHAT_THREADS"] = str(args.threads)

    import numpy as np

    from butterflyer.chat.answer import ChatEngine
    from butterflyer.chat.evaluate import load_questions

    start = time.perf_counter()
    engine = ChatEngine()
    startup = time.perf_counter() - start
    questions = [q for qs in load_questions().values() for q in qs]
    engine.ask("warm up: what does a monarch eat?")

    answer_ms = []
    for _ in range(args.repeat):
        for q in questions:
            t0 = time.perf_counter()
            engine.ask(q.question, species_id=q.species)
            answer_ms.append((time.perf_counter() - t0) * 1000)
    a = np.array(answer_ms)
    texts = [q.question for q in questions][:60]
    one = _encode_p50(engine.encoder, texts, 1)
    two = _encode_p50(engine.encoder, texts, 2)
    built = "build" if engine.index.rebuilt else "open"
    print(f"questions: {len(questions)} x {args.repeat}  encoder threads: {args.threads}  "
          f"chunks: {len(engine.index.chunks)}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.1f}")
    print(f"engine start-up (model load + index {built}): {startup:.1f} s")
    print(f"answer latency        p50 {np.percentile(a, 50):7.1f} ms   p95 {np.percentile(a, 95):7.1f} ms")
    print(f"encoder, 1 thread     p50 {one[0]:7.1f} ms   p95 {one[1]:7.1f} ms")
    print(f"encoder, 2 threads    p50 {two[0]:7.1f} ms   p95 {two[1]:7.1f} ms   "
          f"(x{two[0] / max(one[0], 1e-9):.1f} the 1-thread p50)")
    print(f"target p50 <= 200 ms: {'met' if np.percentile(a, 50) <= 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
