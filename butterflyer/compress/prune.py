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

import copy
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
BISECT_STEPS = 7


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


def prunable_layers(model: ButterflyClassifier, last_stages: int | None = None) -> list[nn.Module] | None:
    """Layers whose output channels are removed; ``None`` means every layer, uniformly.

    In inverted-residual networks (EfficientNet-Lite, MobileNet) only the wide
    expansion convolutions (``conv_pw``, which carry the depthwise conv and the
    projection's inputs with them) and ``conv_head`` are pruned: the narrow residual
    stream is where each removed channel costs the most accuracy for the least MACs.
    ``last_stages`` limits pruning to the blocks of the last that many stages (and
    ``conv_head``); the earlier stages keep every channel and every weight.
    """
    blocks = getattr(model.backbone, "blocks", None)
    if last_stages is not None and blocks is not None:
        scope: nn.Module = nn.ModuleList(list(blocks)[-last_stages:]) if last_stages > 0 else nn.ModuleList()
    else:
        scope = model
    inner: list[nn.Module] = [m.conv_pw for m in scope.modules()  # type: ignore[misc]
                              if hasattr(m, "conv_pw") and hasattr(m, "conv_pwl")]
    if not inner and (last_stages is None or blocks is None):
        return None
    head = getattr(model.backbone, "conv_head", None)
    return inner + ([head] if isinstance(head, nn.Conv2d) else [])


def _prune_once(model: ButterflyClassifier, input_size: int, ratio: float, round_to: int | None,
                last_stages: int | None = None) -> None:
    import torch_pruning as tp

    example = torch.zeros(1, 3, input_size, input_size)
    layers = prunable_layers(model, last_stages)
    ratios: dict[str, object] = ({"pruning_ratio": ratio} if layers is None else
                                 {"pruning_ratio": 0.0, "pruning_ratio_dict": {m: ratio for m in layers}})
    pruner = tp.pruner.MetaPruner(
        _traced(model), example, importance=tp.importance.GroupMagnitudeImportance(p=2),
        iterative_steps=1, ignored_layers=_ignored(model), round_to=round_to, global_pruning=False,
        **ratios)  # type: ignore[arg-type]
    pruner.step()
    model.num_features = model.head.in_features
    if model.imagenet_head is not None:
        model.imagenet_head.requires_grad_(False)  # pruning hands back fresh trainable Parameters


def _trial(model: ButterflyClassifier, input_size: int, ratio: float, round_to: int | None,
           last_stages: int | None = None) -> Cost:
    """The cost ``model`` would have after pruning ``ratio`` of its prunable channels (on a copy)."""
    trial = copy.deepcopy(model)
    _prune_once(trial, input_size, ratio, round_to, last_stages)
    return count_cost(trial, input_size)


def prune_to(model: ButterflyClassifier, input_size: int, goal: float, base: Cost,
             metric: Metric = "macs", round_to: int | None = 8, last_stages: int | None = None) -> Cost:
    """Prune ``model`` in place to at most ``goal`` x ``base`` cost (one schedule step); returns the cost.

    The channel ratio is found by bisection on copies, so the result lands just under
    the goal. Channels with the smallest L2 norm (summed over each coupled group) go
    first, the same fraction from every prunable layer (see :func:`prunable_layers`;
    ``last_stages`` restricts pruning to the late stages).
    """
    check_target(goal)
    was_training = model.training
    model.eval()
    try:
        cost = count_cost(model, input_size)
        if cost.get(metric) <= goal * base.get(metric):
            return cost

        def share(c: Cost) -> float:
            return c.get(metric) / base.get(metric)

        lo, hi = 0.0, MAX_LAYER_RATIO
        # rounding channel counts to a multiple of round_to (SIMD-friendly) can make narrow
        # layers unprunable; fall back to exact counts when it cannot reach the goal
        for rounding in dict.fromkeys([round_to, None]):
            if share(_trial(model, input_size, hi, rounding, last_stages)) <= goal * (1 + TOLERANCE):
                round_to = rounding
                break
        else:
            where = "" if last_stages is None else f" (only the last {last_stages} stages are pruned)"
            raise CompressionError(
                f"even removing {MAX_LAYER_RATIO:.0%} of every prunable layer's channels leaves more than "
                f"{goal:.3f} of the original {metric}{where}; choose a larger target ratio"
                + ("" if last_stages is None else " or prune more stages"))
        for _ in range(BISECT_STEPS):
            mid = (lo + hi) / 2
            if share(_trial(model, input_size, mid, round_to, last_stages)) <= goal:
                hi = mid
            else:
                lo = mid
        _prune_once(model, input_size, hi, round_to, last_stages)
        cost = count_cost(model, input_size)
        log.info("pruned %.3f of the prunable channels: %s ratio %.3f", hi, metric, share(cost))
        return cost
    finally:
        model.train(was_training)


def channel_summary(model: nn.Module) -> dict[str, int]:
    """Output channels (or features) of every Conv2d/Linear layer, for reports and checks."""
    out: dict[str, int] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            out[name] = module.out_channels
        elif isinstance(module, nn.Linear):
            out[name] = module.out_features
    return out
