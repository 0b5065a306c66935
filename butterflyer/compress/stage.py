"""``compress``: teacher folder + records -> pruned, distilled, int8 model and a report.

The one entry point the CLI and the Kubeflow component both call::

    result = compress(teacher_dir, records_uri, out_dir, CompressConfig())
    result.ship_dir      # the folder the app should serve (ONNX + meta.json)
    result.report_md     # compression.md (also .json and .png beside it)

Steps: prune iteratively to the target (each round followed by distillation from
the unpruned teacher), optionally re-measure BatchNorm statistics at full
resolution, save + export to ONNX, quantize to int8 (calibrated on train images),
measure every variant, then pick the fastest model whose val top-1 is within
``max_top1_drop`` of the teacher's (chosen on val, reported on test) and whose
not-a-butterfly gate, fitted as served, turns away the bundled everyday photos.

Output layout under ``out_dir``: ``teacher/`` (ONNX of the input model),
``teacher-int8/``, ``pruned/`` (safetensors + ONNX), ``pruned-int8/``,
optional ``vgg16/`` and ``vgg16-pruned/``, ``config.json``, ``compression.{md,json,png}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from butterflyer.compress.config import CompressConfig
from butterflyer.compress.data import load_split
from butterflyer.compress.export import export_onnx, save_onnx_model
from butterflyer.compress.ood_check import OodCheck, check_ood_gate
from butterflyer.compress.prune import channel_summary, check_target, count_cost
from butterflyer.compress.quantize import quantize_int8
from butterflyer.compress.report import select_ship, write_report
from butterflyer.compress.rounds import prune_and_distill, prune_and_distill_late
from butterflyer.compress.suffix import has_stages
from butterflyer.compress.variants import Row, Variant, measure_variant, time_variants
from butterflyer.compress.vgg import vgg16_variants
from butterflyer.errors import CompressionError
from butterflyer.fileio import atomic_write_json
from butterflyer.models import ModelMeta, load_model, save_model

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass
class CompressResult:
    """What a compression run produced."""

    ship_dir: Path
    shipped: str
    report_md: Path
    report_json: Path
    plot: Path | None
    rows: list[Row] = field(default_factory=list)
    targets: dict[str, Any] = field(default_factory=dict)


def compress(teacher_dir: str | Path, records_uri: str, out_dir: str | Path,
             config: CompressConfig | None = None, progress: Progress | None = None) -> CompressResult:
    """Compress the model in ``teacher_dir`` using the records at ``records_uri``; see the module doc."""
    config = (config or CompressConfig()).check()
    check_target(config.target)  # refuse before any work
    if config.vgg16:
        check_target(config.vgg16_target)
    teacher_dir, out = Path(teacher_dir), Path(out_dir)
    teacher, meta = load_model(teacher_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", {**config.model_dump(), "teacher_dir": str(teacher_dir),
                                            "records_uri": str(records_uri)})
    dc, size = meta.data_config, meta.data_config.input_size
    say = (lambda msg: progress(msg, 0, 0)) if progress else (lambda msg: None)
    say("decoding images")
    train = load_split(records_uri, "train", dc, meta.labels, per_class=config.train_per_class)
    val = load_split(records_uri, "val", dc, meta.labels, limit=config.val_limit)
    test = load_split(records_uri, "test", dc, meta.labels, limit=config.test_limit)
    torch.manual_seed(config.seed)

    say("exporting and quantizing")
    teacher_onnx = save_onnx_model(teacher, meta, out / "teacher")
    calib = list(train.arrays(32))
    arch = meta.architecture
    variants = [
        Variant(f"{arch} teacher (PyTorch)", "pytorch", teacher_dir, count_cost(teacher, size), teacher,
                note="fp32 PyTorch eager: the speed reference; its accuracy is the ONNX fp32 row's "
                     "(the two agree to the parity shown there)", evaluate=False),
        Variant("teacher (ONNX fp32)", "onnx-fp32", teacher_onnx, count_cost(teacher, size), teacher),
    ]
    if config.prune:
        variants += _pruned_variants(teacher, teacher_dir, meta, train, calib, str(records_uri), config, out,
                                     progress)
    if config.quantize_teacher or not config.prune:
        t2 = time.perf_counter()
        teacher_int8 = quantize_int8(teacher_onnx, calib, out / "teacher-int8", config.calibration_images,
                                     config.calibration_method)
        variants.append(Variant("teacher + int8 (ONNX)", "onnx-int8", teacher_int8, count_cost(teacher, size),
                                None, time.perf_counter() - t2))
    if config.vgg16:
        say("building the VGG16 rows")
        variants = vgg16_variants(config, out, records_uri, meta.labels, progress) + variants

    rows: list[Row] = []
    reference = None
    for i, variant in enumerate(variants, start=1):
        if progress:
            progress(f"evaluating {variant.name}", i, len(variants))
        row, imagenet_pred = measure_variant(variant, variant.val or val, variant.test or test,
                                             max(config.threads), reference)
        if variant.model is teacher and variant.runtime == "onnx-fp32":
            reference = imagenet_pred
            row.imagenet_agreement = None if imagenet_pred is None else 1.0
            _copy_accuracy(row, rows[_teacher_index(rows, arch)])
        rows.append(row)
    say("timing every variant (round-robin)")
    time_variants(variants, rows, size, config.threads, config.latency_repeats, config.latency_budget_s)
    ship_row, targets = select_ship(rows, config, _teacher_index(rows, arch),
                                    _ood_checker(str(records_uri), config, progress))
    ship_dir = Path(ship_row.model_dir)
    _finalise_metas(rows, ship_dir)
    md, js, png = write_report(rows, targets, config, out, ship_row)
    return CompressResult(ship_dir, ship_row.name, md, js, png, rows, targets)


def _pruned_variants(teacher: Any, teacher_dir: Path, meta: Any, train: Any, calib: list[Any],
                     records_uri: str,
                     config: CompressConfig, out: Path, progress: Progress | None) -> list[Variant]:
    """Prune and distil a student (late stages on cached maps, or the whole network), export it and its
    int8 copy: the two pruned rows of the report."""
    size = meta.data_config.input_size
    t0 = time.perf_counter()
    if config.finetune_stages and has_stages(teacher):
        student, info = prune_and_distill_late(teacher, records_uri, meta, config, progress)
    else:  # whole-network mode (also for backbones without stages, e.g. VGG16 and the tiny model)
        student, info = prune_and_distill(teacher, train, config, size, progress)
    finetune_s = time.perf_counter() - t0
    base, cost = count_cost(teacher, size), count_cost(student, size)
    extra = {**meta.extra, "compression": {"teacher": str(teacher_dir), "metric": config.metric,
                                           "target": config.target, "macs_ratio": cost.macs / base.macs,
                                           "params_ratio": cost.params / base.params, **info,
                                           "channels": channel_summary(student.backbone)}}
    pruned_meta = meta.model_copy(update={"stage": "pruned", "extra": extra, "metrics": {}})
    pruned_dir = save_model(student, out / "pruned", pruned_meta)
    export_onnx(pruned_dir)
    t1 = time.perf_counter()
    pruned_int8 = quantize_int8(pruned_dir, calib, out / "pruned-int8", config.calibration_images,
                                config.calibration_method)
    quant_s = time.perf_counter() - t1
    return [Variant("pruned + KD (ONNX fp32)", "onnx-fp32", pruned_dir, cost, student, finetune_s,
                    note=_pruned_note(info, cost, base)),
            Variant("pruned + KD + int8 (ONNX)", "onnx-int8", pruned_int8, cost, None, finetune_s + quant_s)]


def _ood_checker(records_uri: str, config: CompressConfig, progress: Progress | None
                  ) -> Callable[[Row], OodCheck]:
    """Fits and measures a candidate's serving gate (see :mod:`butterflyer.compress.ood_check`)."""
    def check(row: Row) -> OodCheck:
        if progress:
            progress(f"fitting and checking the gate of {row.name}", 0, 0)
        return check_ood_gate(Path(row.model_dir), records_uri, per_class=config.gate_per_class)

    return check


def _pruned_note(info: dict[str, Any], cost: Any, base: Any) -> str:
    """How the pruned model was made, for the report."""
    mode = info.get("mode", "whole network on images")
    rounds = info.get("rounds") or []
    epochs = sum(len(r.get("epochs") or []) for r in rounds)
    how = f"{epochs} distillation epochs over train" if epochs else \
        f"{sum(1 for _ in rounds)} round(s) of distillation steps"
    return (f"{cost.macs / base.macs:.0%} of the teacher's MACs and {cost.params / base.params:.0%} of its "
            f"parameters; pruned and fine-tuned: {mode}, {how} ({info.get('distill_seconds', 0):.0f} s)")


def _copy_accuracy(source: Row, target: Row) -> None:
    for key in ("val_top1", "test_top1", "test_top5", "temperature", "imagenet_agreement"):
        setattr(target, key, getattr(source, key))


def _teacher_index(rows: list[Row], arch: str) -> int:
    for i, row in enumerate(rows):
        if row.name == f"{arch} teacher (PyTorch)":
            return i
    raise CompressionError("internal: the teacher row is missing from the report")


def _finalise_metas(rows: list[Row], ship_dir: Path) -> None:
    """Write each variant's measured metrics into its ``meta.json`` (and the temperature refit on val)."""
    for row in rows:
        folder = Path(row.model_dir)
        if row.runtime == "pytorch" or not (folder / "meta.json").is_file():
            continue
        meta = ModelMeta.load(folder)
        metrics = dict(meta.metrics)
        for key in ("val_top1", "test_top1", "test_top5"):
            value = getattr(row, key)
            if value is not None:
                metrics[key] = value  # fractions, like the training stage's metrics
        update: dict[str, Any] = {"metrics": metrics}
        if row.temperature is not None:
            update["temperature"] = row.temperature
        if folder == ship_dir:
            update["extra"] = {**meta.extra, "shipped": True}
        meta.model_copy(update=update).save(folder)
