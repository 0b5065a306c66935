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


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Top-k accuracy in percent for each ``k`` (k is capped at the number of classes)."""
    order = np.argsort(-logits, axis=1)
    out = {}
    for k in ks:
        hits = (order[:, :min(k, logits.shape[1])] == labels[:, None]).any(axis=1)
        out[f"top{k}"] = float(hits.mean() * 100.0)
    return out


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


def onnx_predict_fn(session) -> Predict:
    """Species logits from an ONNX Runtime session."""
    from butterflyer.compress.export import INPUT_NAME, LOGITS

    def run(images: np.ndarray) -> np.ndarray:
        return session.run([LOGITS], {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)})[0]

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
        if budget_s is not None and time.perf_counter() - start > budget_s and len(times) >= 5:
            break
    return times


def latency(fn: Callable[[], object], repeats: int = 50, budget_s: float | None = 20.0) -> Latency:
    """p50/p95 of single calls in ms."""
    times = np.asarray(time_calls(fn, repeats, budget_s=budget_s))
    return Latency(float(np.percentile(times, 50)), float(np.percentile(times, 95)))


def throughput(fn: Callable[[], object], batch: int, repeats: int = 5, budget_s: float | None = 30.0) -> float:
    """Images per second at ``batch`` (median call)."""
    times = time_calls(fn, repeats, warmup=1, budget_s=budget_s)
    return float(batch / (np.median(times) / 1000.0))


def torch_latency(model: ButterflyClassifier, input_size: int, threads: int, repeats: int = 50,
                  budget_s: float = 20.0) -> Latency:
    """Batch-1 eager PyTorch latency with ``threads`` intra-op threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.randn(1, 3, input_size, input_size)
        model.eval()

        def call() -> None:
            with torch.inference_mode():
                model(x)

        return latency(call, repeats, budget_s)
    finally:
        torch.set_num_threads(previous)


def torch_throughput(model: ButterflyClassifier, input_size: int, threads: int, batch: int = 32) -> float:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.randn(batch, 3, input_size, input_size)

        def call() -> None:
            with torch.inference_mode():
                model(x)

        return throughput(call, batch)
    finally:
        torch.set_num_threads(previous)


def onnx_latency(model_dir: Path, input_size: int, threads: int, repeats: int = 50,
                 budget_s: float = 20.0) -> Latency:
    """Batch-1 ONNX Runtime latency (all outputs computed, as the server does)."""
    from butterflyer.compress.export import onnx_predict, onnx_session

    session = onnx_session(model_dir, threads=threads)
    x = np.random.default_rng(0).standard_normal((1, 3, input_size, input_size)).astype(np.float32)
    return latency(lambda: onnx_predict(session, x), repeats, budget_s)


def onnx_throughput(model_dir: Path, input_size: int, threads: int, batch: int = 32) -> float:
    from butterflyer.compress.export import onnx_predict, onnx_session

    session = onnx_session(model_dir, threads=threads)
    x = np.random.default_rng(0).standard_normal((batch, 3, input_size, input_size)).astype(np.float32)
    return throughput(lambda: onnx_predict(session, x), batch)


def file_mb(path: Path) -> float:
    """Size of a file in MB (10^6 bytes)."""
    return path.stat().st_size / 1e6
