"""Structured channel pruning with torch-pruning's dependency graph (DepGraph).

Removing whole channels (not zeroing weights) is what makes dense kernels faster.
DepGraph finds every layer coupled to a channel (depthwise convolutions, residual
additions, batch norms, the flatten into VGG's first fully connected layer) and
removes the channel from all of them at once, so the network stays valid.

The graph is traced through :class:`~butterflyer.models.DualOutput`, i.e. with the
ImageNet head in use: when ``conv_head`` loses channels, the ImageNet head loses
the matching inputs too and the not-a-butterfly gate keeps working. Both heads'
outputs are never pruned.

Typical use, one step of an iterative schedule::

    base = count_cost(model, input_size)
    for goal in schedule(target, steps):
        prune_to(model, input_size, goal, base)   # then fine-tune
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from butterflyer.errors import CompressionError
from butterflyer.models import ButterflyClassifier, DualOutput

log = logging.getLogger(__name__)

Metric = Literal["macs", "params"]
# Channels removed from any one layer, at most; beyond this a layer is a bottleneck that no
# fine-tuning budget here can repair, so the target is refused instead.
MAX_LAYER_RATIO = 0.9
TOLERANCE = 0.03  # relative slack when checking that a goal was met
MAX_CORRECTIONS = 6


@dataclass(frozen=True)
class Cost:
    """MACs per image at one resolution, and parameters (both heads included)."""

    macs: int
    params: int

    def get(self, metric: Metric) -> int:
        return self.macs if metric == "macs" else self.params


def _traced(model: ButterflyClassifier) -> nn.Module:
    return DualOutput(model) if model.imagenet_head is not None else model


def count_cost(model: ButterflyClassifier, input_size: int) -> Cost:
    """Count MACs (batch 1 at ``input_size``) and parameters of ``model``."""
    import torch_pruning as tp

    was_training = model.training
    model.eval()
    example = torch.zeros(1, 3, input_size, input_size)
    with torch.no_grad():
        macs, params = tp.utils.count_ops_and_params(_traced(model), example)
    model.train(was_training)
    return Cost(int(macs), int(params))


def schedule(target: float, steps: int) -> list[float]:
    """Goals (fractions of the original cost) for ``steps`` iterative steps, geometric so
    every step removes the same share of what is left."""
    check_target(target)
    if steps < 1:
        raise CompressionError(f"steps must be at least 1, got {steps}")
    return [target ** ((k + 1) / steps) for k in range(steps)]


def check_target(target: float) -> None:
    """Refuse ratios that are not in (0, 1] or need more than ``MAX_LAYER_RATIO`` per layer."""
    if not 0.0 < target <= 1.0:
        raise CompressionError(f"the target ratio must be in (0, 1] (a fraction of the original cost), "
                               f"got {target}")
    # cost scales about quadratically with a uniform channel ratio: needed ratio = 1 - sqrt(target)
    needed = 1.0 - math.sqrt(target)
    if needed > MAX_LAYER_RATIO:
        floor = (1.0 - MAX_LAYER_RATIO) ** 2
        raise CompressionError(
            f"a target of {target:.3g} would remove about {needed:.0%} of every layer's channels, "
            f"which breaks the model; choose a ratio of at least {floor:.3g} "
            "(or prune in stages and check accuracy in between)")


def _ignored(model: ButterflyClassifier) -> list[nn.Module]:
    ignored: list[nn.Module] = [model.head]
    if model.imagenet_head is not None:
        ignored.append(model.imagenet_head)
    return ignored


def _prune_once(model: ButterflyClassifier, input_size: int, ratio: float, round_to: int | None) -> None:
    import torch_pruning as tp

    example = torch.zeros(1, 3, input_size, input_size)
    pruner = tp.pruner.MetaPruner(
        _traced(model), example, importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=ratio, iterative_steps=1, ignored_layers=_ignored(model), round_to=round_to,
        global_pruning=False)
    pruner.step()


def prune_to(model: ButterflyClassifier, input_size: int, goal: float, base: Cost,
             metric: Metric = "macs", round_to: int | None = 8) -> Cost:
    """Prune ``model`` in place until its cost is at most ``goal`` x ``base`` (one schedule step).

    Channels with the smallest L2 norm (summed over each coupled group) go first,
    the same fraction from every prunable layer. Returns the new cost.
    """
    check_target(goal)
    was_training = model.training
    model.eval()
    try:
        cost = count_cost(model, input_size)
        for _ in range(MAX_CORRECTIONS):
            now = cost.get(metric) / base.get(metric)
            if now <= goal * (1 + TOLERANCE):
                return cost
            # uniform channel ratio r scales cost by about (1 - r)^2; aim a little past the goal
            ratio = min(MAX_LAYER_RATIO, 1.0 - math.sqrt(goal / now) + 0.005)
            _prune_once(model, input_size, ratio, round_to)
            new = count_cost(model, input_size)
            if new.get(metric) >= cost.get(metric):
                break  # nothing prunable is left
            cost = new
            log.info("pruned %.3f of channels: %s ratio %.3f", ratio, metric,
                     cost.get(metric) / base.get(metric))
        now = cost.get(metric) / base.get(metric)
        if now > goal * (1 + TOLERANCE):
            raise CompressionError(
                f"pruning stalled at {now:.3f} of the original {metric}, above the goal {goal:.3f}: the "
                "remaining layers are too thin to prune further. Choose a larger target ratio.")
        return cost
    finally:
        model.train(was_training)
        if isinstance(model, ButterflyClassifier):
            model.num_features = model.head.in_features
            if model.imagenet_head is not None:
                model.imagenet_head.requires_grad_(False)  # pruning hands back fresh trainable Parameters


def channel_summary(model: nn.Module) -> dict[str, int]:
    """Output channels (or features) of every Conv2d/Linear layer, for reports and checks."""
    out: dict[str, int] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            out[name] = module.out_channels
        elif isinstance(module, nn.Linear):
            out[name] = module.out_features
    return out
