"""Prune and distil only the late stages, on cached maps of the early ones.

Fine-tuning a whole pruned network on 2 CPU cores takes hours. The late stages of
an EfficientNet hold most of its weights and over half its MACs, yet run on small
14x14 and 7x7 maps. So the network is cut before its last ``stages`` stages: the
early part (never pruned, never trained) runs once per image and its maps are
cached; the pruned late part is distilled from the teacher on those maps, with a
mirrored view of every map as free augmentation, for a few epochs over the whole
train split. The teacher's outputs on both views are computed once.

    student = copy.deepcopy(teacher)
    prune_to(student, size, 0.75, base, last_stages=3)
    data = suffix_data(teacher, records, dc, labels, stages=3)
    stats = distill_suffix(student, teacher, data, SuffixConfig(epochs=6))

The student keeps the teacher's early layers bit for bit, so ``student(images)`` is
exactly the distilled late part applied to the cached maps. The maps, their cache and
the training loop are :mod:`butterflyer.train.late_stage`, which ``butterflyer train``
uses too; this module adds what pruning needs (the cut, the prefix check, the
BatchNorm re-measurement and the teacher's targets).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from butterflyer.compress.distill import DistillConfig, recalibrate_bn
from butterflyer.errors import CompressionError
from butterflyer.models import ButterflyClassifier
from butterflyer.models.meta import DataConfig
from butterflyer.train import late_stage
from butterflyer.train.features import Cut, cut_backbone
from butterflyer.train.late_stage import LateStageConfig, LateStageData, Maps, Targets, as_batch

__all__ = ["Maps", "Targets", "SuffixData", "SuffixConfig", "SuffixStats", "has_stages", "suffix_cut",
           "split_maps", "teacher_targets", "suffix_data", "maps_top1", "distill_suffix"]

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
RECALIBRATION_BATCHES = 8  # x 256 train maps for the BatchNorm statistics after pruning


@dataclass
class SuffixData(LateStageData):
    """The maps and teacher targets of :func:`distill_suffix`, and where the network is cut."""

    stages: int = 3


@dataclass(frozen=True)
class SuffixConfig:
    """Knobs of the late-stage distillation."""

    epochs: int = 6
    batch_size: int = 64
    kd: DistillConfig = field(default_factory=DistillConfig)


@dataclass
class SuffixStats:
    epochs: int
    images: int
    seconds: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def has_stages(model: ButterflyClassifier) -> bool:
    """True for EfficientNet-style backbones (``blocks`` of stages and a ``conv_head``)."""
    return hasattr(model.backbone, "blocks") and hasattr(model.backbone, "conv_head")


def suffix_cut(model: ButterflyClassifier, stages: int) -> Cut:
    """Cut ``model`` before its last ``stages`` stages (EfficientNet-style backbones only)."""
    if not has_stages(model):
        raise CompressionError(f"late-stage fine-tuning needs an EfficientNet-style backbone; "
                               f"{type(model.backbone).__name__} has none. Leave finetune_stages unset")
    count = len(model.backbone.blocks)  # type: ignore[arg-type]
    if not 1 <= stages < count:
        raise CompressionError(f"finetune_stages must be between 1 and {count - 1} for this model, "
                               f"got {stages}")
    cut = cut_backbone(model, last_blocks=stages)
    if not cut.trainable_suffix:
        raise CompressionError("internal: the backbone could not be cut")
    return cut


def split_maps(model: ButterflyClassifier, stages: int, records_uri: str, split: str, config: DataConfig,
               labels: list[str], progress: Progress | None = None) -> Maps:
    """The maps of ``split`` entering the last ``stages`` stages (shared cache with ``butterflyer train``)."""
    return late_stage.split_maps(suffix_cut(model, stages).prefix, records_uri, split, config, labels,
                                 progress=progress)


def teacher_targets(teacher: ButterflyClassifier, stages: int, maps: Maps) -> Targets:
    """Teacher logits on every map and on its mirror image (computed once, reused every epoch)."""
    return late_stage.reference_logits(teacher, suffix_cut(teacher, stages).suffix, maps)


def suffix_data(teacher: ButterflyClassifier, records_uri: str, config: DataConfig, labels: list[str],
                stages: int, progress: Progress | None = None) -> SuffixData:
    """Maps of train and val plus the teacher's targets on train."""
    train = split_maps(teacher, stages, records_uri, "train", config, labels, progress)
    val = split_maps(teacher, stages, records_uri, "val", config, labels, progress)
    if progress:
        progress("teacher outputs on the cached maps", 0, 0)
    return SuffixData(train=train, val=val, targets=teacher_targets(teacher, stages, train), stages=stages)


def maps_top1(model: ButterflyClassifier, stages: int, maps: Maps) -> float:
    """Species top-1 (fraction) of ``model`` on cached maps."""
    return late_stage.maps_top1(model, suffix_cut(model, stages).suffix, maps)


def distill_suffix(student: ButterflyClassifier, teacher: ButterflyClassifier, data: SuffixData,
                   config: SuffixConfig, progress: Progress | None = None, seed: int = 0) -> SuffixStats:
    """Distil the student's late stages and species head on cached maps; keeps the epoch best on val.

    Pruning shifts the activations of what is left, so the late stages' BatchNorm
    statistics are first measured again on train maps; then they stay frozen (their
    affine weights train). Without the re-measurement, saturated ReLU6 units stall
    the distillation.
    """
    if config.epochs < 1:
        return SuffixStats(0, 0, 0.0, 0)
    cut = suffix_cut(student, data.stages)
    with torch.no_grad():
        if not _same_prefix(student, teacher, data.stages):
            stages = data.stages
            raise CompressionError("the student's early stages differ from the teacher's; prune only "
                                   f"the last {stages} stages (prune_to(..., last_stages={stages}))")
        cut.suffix.eval()(data.train.maps[:1].float())  # fails early if the maps do not fit the student
    gen = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(data.train), generator=gen)[:RECALIBRATION_BATCHES * 256]
    batches = (as_batch(data.train.maps[sample[i:i + 256]]) for i in range(0, len(sample), 256))
    recalibrate_bn(cut.suffix, batches, max_batches=RECALIBRATION_BATCHES)
    kd = config.kd
    plan = LateStageConfig(epochs=config.epochs, batch_size=config.batch_size, lr=kd.lr,
                           weight_decay=kd.weight_decay, temperature=kd.temperature, alpha=kd.alpha,
                           imagenet_weight=kd.imagenet_weight)
    stats = late_stage.fit_late_stages(student, cut.suffix, data, plan, progress, seed=seed)
    return SuffixStats(stats.epochs, stats.images, stats.seconds, stats.best_epoch, stats.history)


def _same_prefix(student: ButterflyClassifier, teacher: ButterflyClassifier, stages: int) -> bool:
    a, b = suffix_cut(student, stages).prefix.state_dict(), suffix_cut(teacher, stages).prefix.state_dict()
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)
