"""Measure a model variant: size, cost, accuracy and CPU latency.

Latency is measured the way a server sees it: one image at a time (batch 1,
p50/p95 over many calls after a warm-up) with ONNX Runtime at 1 and 2 intra-op
threads, plus throughput at batch 32. PyTorch eager is timed the same way as the
reference the speed-up targets are stated against. On a shared machine timings
are noisy: compare variants measured in the same run, not across runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from butterflyer.models import ButterflyClassifier

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def torch_predict(model: ButterflyClassifier) -> Predict:
    """Species logits from a PyTorch model (eval mode, no grad)."""
    model.eval()

    def run(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.ascontiguousarray(images))).numpy()

    return run


def collect_logits(predict: Predict, batches: Iterable[np.ndarray], chunk: int = 32) -> np.ndarray:
    """Run ``predict`` over batches (split into ``chunk``-size pieces) and stack the logits."""
    outs = []
    for batch in batches:
        for start in range(0, len(batch), chunk):
            outs.append(predict(batch[start:start + chunk]))
    return np.concatenate(outs)


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 3, budget_s: float | None = None
               ) -> list[float]:
    """Wall time of each of ``repeats`` calls in ms (stops early when ``budget_s`` is spent)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
        if budget_s is not None and time.perf_counter() - start > budget_s and len(times) >= 3:
            break
    return times


def interleaved_latency(fns: dict[str, Callable[[], object]], repeats: int = 50, warmup: int = 3,
                        budget_s: float | None = 60.0) -> dict[str, Latency]:
    """Batch-1 latency of several callables timed in round-robin, so that load from other
    processes on a shared machine hits every variant alike. ``budget_s`` caps the whole loop."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    start = time.perf_counter()
    for i in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
        if budget_s is not None and time.perf_counter() - start > budget_s and i >= 4:
            break
    return {name: Latency(float(np.percentile(t, 50)), float(np.percentile(t, 95)))
            for name, t in times.items()}


def throughput(fn: Callable[[], object], batch: int, repeats: int = 5, budget_s: float | None = 30.0
               ) -> float:
    """Images per second at ``batch`` (median call)."""
    times = time_calls(fn, repeats, warmup=1, budget_s=budget_s)
    return float(batch / (np.median(times) / 1000.0))


def torch_call(model: ButterflyClassifier, batch: int, input_size: int) -> Callable[[], object]:
    """A no-argument call running ``model`` on a random batch (for timing)."""
    x = torch.randn(batch, 3, input_size, input_size)
    model.eval()

    def call() -> None:
        with torch.inference_mode():
            model(x)

    return call


def onnx_call(model_dir: Path, batch: int, input_size: int, threads: int) -> Callable[[], object]:
    """A no-argument call running the ONNX model on a random batch, all outputs (for timing)."""
    from butterflyer.compress.export import onnx_predict, onnx_session

    session = onnx_session(model_dir, threads=threads, spin=False)
    x = np.random.default_rng(0).standard_normal((batch, 3, input_size, input_size)).astype(np.float32)
    return lambda: onnx_predict(session, x)


def file_mb(path: Path) -> float:
    """Size of a file in MB (10^6 bytes)."""
    return path.stat().st_size / 1e6
