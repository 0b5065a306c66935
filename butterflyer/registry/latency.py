"""Batch-1 CPU latency of a model folder, for promotion's latency budget.

ONNX Runtime when the folder has ``model.onnx`` (what the app serves), else
PyTorch eager. Timings on a shared machine are noisy: the median of many runs
after a warm-up is what promotion compares.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from butterflyer.models.meta import ONNX_FILE, WEIGHTS_FILE, ModelMeta


def measure_latency(model_dir: str | Path, runs: int = 30, warmup: int = 5,
                    threads: int = 1) -> dict[str, float]:
    """``{"latency_ms_p50", "latency_ms_p95"}`` for one image of the model's input size."""
    folder = Path(model_dir)
    meta = ModelMeta.load(folder)
    size = meta.data_config.input_size
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    if (folder / ONNX_FILE).is_file():
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(folder / ONNX_FILE), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: x}

        def call() -> None:
            sess.run(None, feed)
    elif (folder / WEIGHTS_FILE).is_file():
        import torch

        from butterflyer.models.artifact import load_model

        torch.set_num_threads(threads)
        model, _ = load_model(folder)
        tensor = torch.from_numpy(x)

        def call() -> None:
            with torch.inference_mode():
                model(tensor)
    else:
        from butterflyer.errors import ModelError

        raise ModelError(f"{folder} has neither {ONNX_FILE} nor {WEIGHTS_FILE}; nothing to time")
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()
    return {"latency_ms_p50": statistics.median(times),
            "latency_ms_p95": times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]}
