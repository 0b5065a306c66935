"""The VGG16 rows of the report: the seed design's baseline and its pruned version.

No ImageNet VGG16 weights are available offline and training VGG16 (~15 GMACs per
image) on a few CPU cores is out of reach, so without ``vgg16_dir`` the baseline is
an *untrained* VGG16: its rows then measure what pruning does to parameters,
file size, MACs and latency, and no accuracy is reported for them. With a trained
VGG16 folder (``vgg16_dir``) the pruned model is also distilled from it and both
are evaluated like the other rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from butterflyer.compress.config import CompressConfig
from butterflyer.compress.data import ImageSet, load_split, scaled_config
from butterflyer.compress.export import save_onnx_model
from butterflyer.compress.prune import count_cost, prune_to, schedule
from butterflyer.compress.rounds import prune_and_distill
from butterflyer.compress.variants import Variant
from butterflyer.models import ModelMeta, create_model, data_config_for, load_model, save_model

Progress = Callable[[str, int, int], None]


def prune_vgg(model, config: CompressConfig, size: int):
    """A pruned copy of ``model`` at ``config.vgg16_target`` of its parameters (iterative, no fine-tuning)."""
    base = count_cost(model, size)
    student = copy.deepcopy(model)
    for goal in schedule(config.vgg16_target, config.steps):
        prune_to(student, size, goal, base, metric="params")
    return student.eval(), base, count_cost(student, size)


def vgg16_variants(config: CompressConfig, out: Path, records_uri: str, labels: list[str],
                   progress: Progress | None = None) -> list[Variant]:
    """Build, prune, export and describe the two VGG16 variants."""
    size = config.vgg16_resolution
    if config.vgg16_dir:
        model, meta = load_model(config.vgg16_dir)
        trained, note = True, "trained VGG16 from " + str(config.vgg16_dir)
    else:
        model = create_model("vgg16", len(labels), pretrained=False).eval()
        meta = ModelMeta(architecture="vgg16", labels=labels, data_config=data_config_for("vgg16"),
                         stage="untrained")
        trained = False
        note = ("UNTRAINED VGG16 (no ImageNet weights offline; training it on CPU is infeasible): "
                "accuracy not measured, size/MACs/latency only")
    meta = meta.model_copy(update={"data_config": scaled_config(meta.data_config, size)})
    if progress:
        progress("pruning VGG16", 0, 0)
    val: ImageSet | None = None
    test: ImageSet | None = None
    if trained:
        train = load_split(records_uri, "train", meta.data_config, labels, per_class=config.train_per_class)
        val = load_split(records_uri, "val", meta.data_config, labels, limit=config.val_limit)
        test = load_split(records_uri, "test", meta.data_config, labels, limit=config.test_limit)
        vgg_config = config.model_copy(update={"target": config.vgg16_target, "metric": "params"})
        student, _ = prune_and_distill(model, train, vgg_config, size, progress)
        base, cost = count_cost(model, size), count_cost(student, size)
    else:
        student, base, cost = prune_vgg(model, config, size)
    base_dir = save_onnx_model(model, meta, out / "vgg16")
    pruned_dir = save_model(student, out / "vgg16-pruned", meta.model_copy(update={"stage": "pruned"}))
    save_onnx_model(student, meta.model_copy(update={"stage": "pruned"}), pruned_dir)
    pruned_note = f"pruned to {config.vgg16_target:g} of the parameters" + (
        "" if trained else " by weight magnitude of the untrained network; not fine-tuned")
    return [
        Variant("vgg16 baseline (ONNX fp32)", "onnx-fp32", base_dir, base, model, note=note,
                evaluate=trained, input_size=size, val=val, test=test),
        Variant("vgg16 pruned (ONNX fp32)", "onnx-fp32", pruned_dir, cost, student, note=pruned_note,
                evaluate=trained, input_size=size, val=val, test=test),
    ]
