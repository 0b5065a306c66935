"""One row of the compression report: a model variant measured end to end.

A :class:`Variant` is a model folder plus how to run it (PyTorch eager, ONNX fp32
or ONNX int8). :func:`measure_variant` fills a :class:`Row` with parameters, file
size, MACs, top-1/top-5 on val and test, batch-1 latency p50/p95 per thread count,
throughput at batch 32, and the probability agreement with the PyTorch model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from butterflyer.compress import measure as M
from butterflyer.compress.data import ImageSet
from butterflyer.compress.prune import Cost
from butterflyer.models import ButterflyClassifier
from butterflyer.models.meta import ONNX_FILE, WEIGHTS_FILE
from butterflyer.train.metrics import topk_accuracy

log = logging.getLogger(__name__)

Runtime = Literal["pytorch", "onnx-fp32", "onnx-int8"]
PARITY_IMAGES = 64


@dataclass
class Variant:
    name: str
    runtime: Runtime
    model_dir: Path
    cost: Cost
    model: ButterflyClassifier | None = None  # the PyTorch model (eager row, parity reference)
    finetune_s: float = 0.0
    note: str = ""
    evaluate: bool = True
    input_size: int | None = None  # None: the pipeline's default
    val: ImageSet | None = None  # evaluation sets preprocessed for this model, when they differ
    test: ImageSet | None = None


@dataclass
class Row:
    name: str
    runtime: str
    model_dir: str
    params: int
    macs: int
    file_mb: float
    finetune_s: float
    val_top1: float | None = None
    test_top1: float | None = None
    test_top5: float | None = None
    temperature: float | None = None
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    throughput_b32: float | None = None
    parity_max_prob_diff: float | None = None
    imagenet_agreement: float | None = None  # share of val images with the teacher's ImageNet top-1
    gate_kind: str | None = None  # filled for the variants whose serving gate was checked
    gate_everyday_rejected: str | None = None  # "rejected/total" bundled everyday photos
    gate_test_false_reject: float | None = None  # fraction of test butterflies the gate turned away
    note: str = ""

    def p50(self, threads: int) -> float | None:
        entry = self.latency_ms.get(str(threads))
        return None if entry is None else entry["p50"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BothLogits = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


def _predictor(variant: Variant, threads: int) -> BothLogits:
    """Species logits and (when the model has that head) ImageNet logits for a batch."""
    if variant.runtime == "pytorch":
        model = variant.model
        if model is None:
            raise ValueError(f"variant {variant.name} has no PyTorch model")
        model.eval()

        def run_torch(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(images))
                if model.imagenet_head is None:
                    return model(x).numpy(), None
                logits, imagenet = model.forward_with_imagenet(x)
                return logits.numpy(), imagenet.numpy()

        return run_torch
    from butterflyer.compress.export import IMAGENET_LOGITS, LOGITS, onnx_predict, onnx_session

    session = onnx_session(variant.model_dir, threads=threads)

    def run_onnx(images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        out = onnx_predict(session, images)
        return out[LOGITS], out.get(IMAGENET_LOGITS)

    return run_onnx


def _collect(predict: BothLogits, images: ImageSet, chunk: int = 32) -> tuple[np.ndarray, np.ndarray | None]:
    logits, imagenet = [], []
    for batch in images.arrays(chunk):
        a, b = predict(batch)
        logits.append(a)
        if b is not None:
            imagenet.append(b.argmax(axis=1))
    return np.concatenate(logits), (np.concatenate(imagenet) if imagenet else None)


def _file(variant: Variant) -> Path:
    return variant.model_dir / (WEIGHTS_FILE if variant.runtime == "pytorch" else ONNX_FILE)


def measure_variant(variant: Variant, val: ImageSet | None, test: ImageSet | None, threads: int,
                    imagenet_reference: np.ndarray | None = None) -> tuple[Row, np.ndarray | None]:
    """Size and accuracy of one variant (all variants are timed together by :func:`time_variants`).

    Also returns the variant's ImageNet top-1 class per val image; with ``imagenet_reference``
    (the teacher's), the row records how often they agree: the not-a-butterfly gate's health.
    """
    from butterflyer.train.calibration import fit_temperature

    path = _file(variant)
    row = Row(variant.name, variant.runtime, str(variant.model_dir), variant.cost.params, variant.cost.macs,
              round(M.file_mb(path), 3) if path.is_file() else float("nan"), round(variant.finetune_s, 1),
              note=variant.note)
    predict = _predictor(variant, threads)
    imagenet_pred = None
    if variant.evaluate and val is not None:
        val_logits, imagenet_pred = _collect(predict, val)
        if imagenet_pred is not None and imagenet_reference is not None:
            row.imagenet_agreement = float((imagenet_pred == imagenet_reference).mean())
        row.val_top1 = topk_accuracy(val_logits, val.labels, 1)  # fractions; percent only when displayed
        fitted = fit_temperature(torch.from_numpy(val_logits), torch.from_numpy(val.labels))
        row.temperature = round(fitted, 4)
    if variant.evaluate and test is not None:
        test_logits, _ = _collect(predict, test)
        row.test_top1 = topk_accuracy(test_logits, test.labels, 1)
        row.test_top5 = topk_accuracy(test_logits, test.labels, 5)
        if variant.runtime == "onnx-fp32" and variant.model is not None:
            images = np.concatenate(list(test.arrays()))[:PARITY_IMAGES]
            ref = M.collect_logits(M.torch_predict(variant.model), [images])
            diff = np.abs(M.softmax(ref) - M.softmax(test_logits[:len(images)])).max()
            row.parity_max_prob_diff = float(diff)
    log.info("measured %s: val top-1 %s, test top-1 %s", row.name, row.val_top1, row.test_top1)
    return row, imagenet_pred


def _call(variant: Variant, batch: int, size: int, threads: int) -> Callable[[], object]:
    if variant.runtime == "pytorch":
        if variant.model is None:
            raise ValueError(f"variant {variant.name} has no PyTorch model")
        return M.torch_call(variant.model, batch, size)
    return M.onnx_call(variant.model_dir, batch, size, threads)


def time_variants(variants: list[Variant], rows: list[Row], default_size: int, threads: tuple[int, ...],
                  repeats: int, budget_s: float, batch: int = 32) -> None:
    """Fill each row's batch-1 latency per thread count (variants timed round-robin, see
    :func:`~butterflyer.compress.measure.interleaved_latency`) and throughput at ``batch``."""
    previous = torch.get_num_threads()
    try:
        for n in threads:
            torch.set_num_threads(n)  # PyTorch rows; ONNX sessions get n intra-op threads
            calls = {v.name: _call(v, 1, v.input_size or default_size, n) for v in variants}
            for row, lat in zip(rows, M.interleaved_latency(calls, repeats, budget_s=budget_s).values(),
                                strict=True):
                row.latency_ms[str(n)] = {"p50": round(lat.p50_ms, 2), "p95": round(lat.p95_ms, 2)}
        top = max(threads)
        torch.set_num_threads(top)
        for variant, row in zip(variants, rows, strict=True):
            call = _call(variant, batch, variant.input_size or default_size, top)
            row.throughput_b32 = round(M.throughput(call, batch, budget_s=budget_s), 1)
    finally:
        torch.set_num_threads(previous)
