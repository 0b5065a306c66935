"""One row of the compression report: a model variant measured end to end.

A :class:`Variant` is a model folder plus how to run it (PyTorch eager, ONNX fp32
or ONNX int8). :func:`measure_variant` fills a :class:`Row` with parameters, file
size, MACs, top-1/top-5 on val and test, batch-1 latency p50/p95 per thread count,
throughput at batch 32, and the probability agreement with the PyTorch model.
"""

from __future__ import annotations

import logging
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
    note: str = ""

    def p50(self, threads: int) -> float | None:
        entry = self.latency_ms.get(str(threads))
        return None if entry is None else entry["p50"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _predictor(variant: Variant, threads: int) -> M.Predict:
    if variant.runtime == "pytorch":
        if variant.model is None:
            raise ValueError(f"variant {variant.name} has no PyTorch model")
        return M.torch_predict(variant.model)
    from butterflyer.compress.export import onnx_session

    return M.onnx_predict_fn(onnx_session(variant.model_dir, threads=threads))


def _file(variant: Variant) -> Path:
    return variant.model_dir / (WEIGHTS_FILE if variant.runtime == "pytorch" else ONNX_FILE)


def measure_variant(variant: Variant, val: ImageSet | None, test: ImageSet | None, input_size: int,
                    threads: tuple[int, ...], repeats: int, budget_s: float) -> Row:
    """Measure everything the report shows for one variant (see the module docstring)."""
    from butterflyer.train.calibration import fit_temperature

    path = _file(variant)
    row = Row(variant.name, variant.runtime, str(variant.model_dir), variant.cost.params, variant.cost.macs,
              round(M.file_mb(path), 3) if path.is_file() else float("nan"), round(variant.finetune_s, 1),
              note=variant.note)
    predict = _predictor(variant, max(threads))
    if variant.evaluate and val is not None:
        val_logits = M.collect_logits(predict, val.arrays())
        row.val_top1 = M.topk_accuracy(val_logits, val.labels, (1,))["top1"]
        row.temperature = round(fit_temperature(torch.from_numpy(val_logits), torch.from_numpy(val.labels)), 4)
    if variant.evaluate and test is not None:
        test_logits = M.collect_logits(predict, test.arrays())
        acc = M.topk_accuracy(test_logits, test.labels, (1, 5))
        row.test_top1, row.test_top5 = acc["top1"], acc["top5"]
        if variant.runtime == "onnx-fp32" and variant.model is not None:
            images = np.concatenate(list(test.arrays()))[:PARITY_IMAGES]
            ref = M.collect_logits(M.torch_predict(variant.model), [images])
            diff = np.abs(M.softmax(ref) - M.softmax(test_logits[:len(images)])).max()
            row.parity_max_prob_diff = float(diff)
    for n in threads:
        if variant.runtime == "pytorch":
            lat = M.torch_latency(variant.model, input_size, n, repeats, budget_s)  # type: ignore[arg-type]
        else:
            lat = M.onnx_latency(variant.model_dir, input_size, n, repeats, budget_s)
        row.latency_ms[str(n)] = {"p50": round(lat.p50_ms, 2), "p95": round(lat.p95_ms, 2)}
    top = max(threads)
    if variant.runtime == "pytorch":
        row.throughput_b32 = round(M.torch_throughput(variant.model, input_size, top), 1)  # type: ignore[arg-type]
    else:
        row.throughput_b32 = round(M.onnx_throughput(variant.model_dir, input_size, top), 1)
    log.info("measured %s: top-1 %s, p50@%d %.1f ms", row.name, row.test_top1, top, row.p50(top) or -1)
    return row
