"""Knowledge distillation: fine-tune a pruned student towards its unpruned teacher.

The loss is ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, label)``
on the species logits, plus ``imagenet_weight * T^2 * KL`` on the ImageNet logits when
both models have an ImageNet head, so the student's features keep feeding the
frozen ImageNet head the way the teacher's did (the not-a-butterfly gate reads it).

Data is any iterable of ``(images, labels)`` tensor batches, so tests feed
synthetic tensors and the pipeline feeds decoded records.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from butterflyer.errors import CompressionError
from butterflyer.models import ButterflyClassifier
from butterflyer.train.late_stage import kd_loss

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class DistillConfig:
    """Knobs of one fine-tuning run."""

    steps: int = 100
    lr: float = 5e-4
    weight_decay: float = 1e-5
    temperature: float = 4.0
    alpha: float = 0.7
    imagenet_weight: float = 0.5
    warmup_steps: int = 5


@dataclass(frozen=True)
class DistillStats:
    steps: int
    images: int
    seconds: float
    first_loss: float
    last_loss: float


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      config: DistillConfig, student_imagenet: torch.Tensor | None = None,
                      teacher_imagenet: torch.Tensor | None = None) -> torch.Tensor:
    """The combined objective described in the module docstring."""
    loss = config.alpha * kd_loss(student_logits, teacher_logits, config.temperature)
    if config.alpha < 1.0:
        loss = loss + (1.0 - config.alpha) * F.cross_entropy(student_logits, labels)
    if student_imagenet is not None and teacher_imagenet is not None and config.imagenet_weight > 0:
        loss = loss + config.imagenet_weight * kd_loss(student_imagenet, teacher_imagenet, config.temperature)
    return loss


def _cycle(batches: Iterable[Batch] | Callable[[], Iterable[Batch]]) -> Iterator[Batch]:
    """Repeat the data until the step budget is spent (a callable gives a fresh pass each epoch)."""
    while True:
        source = batches() if callable(batches) else batches
        empty = True
        for batch in source:
            empty = False
            yield batch
        if empty:
            raise CompressionError("the fine-tuning data is empty; check the records' train split")


def _lr_factor(step: int, config: DistillConfig) -> float:
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * (step - config.warmup_steps) / span))


def distill(student: ButterflyClassifier, teacher: ButterflyClassifier,
            batches: Iterable[Batch] | Callable[[], Iterable[Batch]], config: DistillConfig,
            on_step: Callable[[int, float], None] | None = None) -> DistillStats:
    """Fine-tune ``student`` in place for ``config.steps`` steps; the teacher stays frozen."""
    if config.steps < 1:
        return DistillStats(0, 0, 0.0, float("nan"), float("nan"))
    use_imagenet = (student.imagenet_head is not None and teacher.imagenet_head is not None
                    and config.imagenet_weight > 0)
    params = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    teacher.eval()
    student.train()
    start, seen = time.perf_counter(), 0
    first = last = float("nan")
    data = _cycle(batches)
    try:
        for step in range(config.steps):
            images, labels = next(data)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_factor(step, config)
            with torch.no_grad():
                if use_imagenet:
                    t_logits, t_imagenet = teacher.forward_with_imagenet(images)
                else:
                    t_logits, t_imagenet = teacher(images), None
            if use_imagenet:
                s_logits, s_imagenet = student.forward_with_imagenet(images)
            else:
                s_logits, s_imagenet = student(images), None
            loss = distillation_loss(s_logits, t_logits, labels, config, s_imagenet, t_imagenet)
            if not torch.isfinite(loss):
                raise CompressionError(f"the distillation loss diverged at step {step}; "
                                       "lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, 5.0)
            optimizer.step()
            last = float(loss.detach())
            first = last if step == 0 else first
            seen += len(images)
            if on_step is not None:
                on_step(step + 1, last)
    finally:
        student.eval()
    return DistillStats(config.steps, seen, time.perf_counter() - start, first, last)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor], max_batches: int = 20) -> int:
    """Re-estimate BatchNorm running statistics from data (forward passes only).

    Useful after fine-tuning at a reduced resolution: statistics are then measured
    again at the resolution the model is served at. Returns the images seen.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    data = iter(batches)
    first = next(data, None)
    if first is None:
        raise CompressionError("no images to recalibrate BatchNorm statistics with")
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over all batches seen
    was_training = model.training
    model.train()
    seen = 0
    try:
        for images in itertools.chain([first], itertools.islice(data, max_batches - 1)):
            model(images)
            seen += len(images)
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.train(was_training)
    return seen
