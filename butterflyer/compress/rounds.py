"""The prune -> distil rounds: the student is pruned a step at a time, each step followed by distillation.

Two ways, both used by :func:`butterflyer.compress.stage.compress` (and the whole-network one
by the VGG16 rows, :mod:`butterflyer.compress.vgg`):

- :func:`prune_and_distill`: the whole network, distilled on decoded training images;
- :func:`prune_and_distill_late`: only the last ``finetune_stages`` stages, distilled on
  cached early-stage maps (:mod:`butterflyer.compress.suffix`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from butterflyer.compress.config import CompressConfig
from butterflyer.compress.data import ImageSet
from butterflyer.compress.distill import DistillConfig, distill, recalibrate_bn
from butterflyer.compress.prune import count_cost, prune_to, schedule
from butterflyer.compress.suffix import SuffixConfig, distill_suffix, maps_top1, suffix_data
from butterflyer.models import ButterflyClassifier, ModelMeta

Progress = Callable[[str, int, int], None]


def _train_batches(train: ImageSet, config: CompressConfig, input_size: int, epoch: list[int]):
    """Fresh shuffled epoch of random crops, resized to the fine-tuning resolution."""
    res = config.train_resolution or input_size
    crop = max(res, int(round(input_size * 0.875)))

    def make():
        epoch[0] += 1
        for images, labels in train.train_batches(config.batch_size, crop, config.seed + epoch[0]):
            if images.shape[-1] != res:
                images = torch.nn.functional.interpolate(images, size=(res, res), mode="bilinear",
                                                         antialias=True, align_corners=False)
            yield images, labels

    return make


def prune_and_distill(teacher: ButterflyClassifier, train: ImageSet, config: CompressConfig,
                      input_size: int, progress: Progress | None = None) -> tuple[ButterflyClassifier, dict]:
    """The iterative prune -> distil loop; returns the student and a log of each round."""
    base = count_cost(teacher, input_size)
    student = copy.deepcopy(teacher)
    kd = DistillConfig(steps=config.finetune_steps, lr=config.lr, temperature=config.temperature,
                       alpha=config.alpha, imagenet_weight=config.imagenet_weight)
    rounds, seconds, epoch = [], 0.0, [0]
    batches = _train_batches(train, config, input_size, epoch)
    total = len(schedule(config.target, config.steps))
    for i, goal in enumerate(schedule(config.target, config.steps), start=1):
        cost = prune_to(student, input_size, goal, base, metric=config.metric)
        def step(n: int, loss: float, i: int = i) -> None:
            if progress:
                progress(f"round {i}/{total}: distil (loss {loss:.3f})", n, config.finetune_steps)
        stats = distill(student, teacher, batches, kd, on_step=step)
        seconds += stats.seconds
        rounds.append({"round": i, "goal": round(goal, 4), "macs_ratio": cost.macs / base.macs,
                       "params_ratio": cost.params / base.params, "distill_seconds": round(stats.seconds, 1),
                       "first_loss": stats.first_loss, "last_loss": stats.last_loss})
    info: dict[str, Any] = {"rounds": rounds, "distill_seconds": seconds}
    if config.recalibrate_bn:
        # statistics measured at the served resolution on train images; pruning shifts them and
        # low-resolution fine-tuning leaves them at the wrong scale (see recalibrate_bn)
        info["bn_recalibrated_on"] = recalibrate_bn(student, (x for x, _ in train.batches(config.batch_size)),
                                                    max_batches=16)
    return student.eval(), info


def prune_and_distill_late(teacher: ButterflyClassifier, records_uri: str, meta: ModelMeta,
                           config: CompressConfig, progress: Progress | None = None
                           ) -> tuple[ButterflyClassifier, dict]:
    """The prune -> distil loop restricted to the last ``config.finetune_stages`` stages (cached maps)."""
    stages = int(config.finetune_stages or 0)
    size = meta.data_config.input_size
    base = count_cost(teacher, size)
    data = suffix_data(teacher, records_uri, meta.data_config, meta.labels, stages, progress)
    teacher_val = maps_top1(teacher, stages, data.val)
    student = copy.deepcopy(teacher)
    kd = DistillConfig(lr=config.lr, temperature=config.temperature, alpha=config.alpha,
                       imagenet_weight=config.imagenet_weight)
    rounds, seconds = [], 0.0
    for i, goal in enumerate(schedule(config.target, config.steps), start=1):
        cost = prune_to(student, size, goal, base, metric=config.metric, last_stages=stages)
        plan = SuffixConfig(config.finetune_epochs, config.batch_size, kd)
        stats = distill_suffix(student, teacher, data, plan, progress, seed=config.seed + i)
        seconds += stats.seconds
        rounds.append({"round": i, "goal": round(goal, 4), "macs_ratio": cost.macs / base.macs,
                       "params_ratio": cost.params / base.params, "distill_seconds": round(stats.seconds, 1),
                       "best_epoch": stats.best_epoch, "epochs": stats.history})
    info: dict[str, Any] = {"mode": f"last {stages} stages on cached maps", "rounds": rounds,
                            "distill_seconds": seconds, "train_maps": len(data.train),
                            "teacher_val_top1_on_maps": teacher_val}
    return student.eval(), info
