"""The CPU fast path: cached frozen-backbone maps, a head trained in seconds, a late-stage fine-tune.

1. Run the frozen prefix of the backbone once over train (its mirror images come
   free: a mirrored map), val and test; cache the maps.
2. Train the species head on pooled features (AdamW, label smoothing, cosine).
3. Fine-tune the last ``fast_finetune_blocks`` stages, ``conv_head`` and the head
   for ``fast_finetune_epochs`` on the cached maps (:mod:`butterflyer.train.late_stage`,
   the loop ``butterflyer compress`` distils with), with learning without forgetting:
   the frozen ImageNet head's outputs stay close to the untouched network's, so the
   features stay general (the not-a-butterfly gate reads them). The best epoch on
   val top-1 is kept.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from butterflyer.models.classifier import ButterflyClassifier
from butterflyer.models.meta import DataConfig
from butterflyer.train.config import TrainConfig
from butterflyer.train.features import Cut, cut_backbone, pick_threads
from butterflyer.train.late_stage import (
    LateStageConfig,
    LateStageData,
    Maps,
    fit_late_stages,
    kd_loss,
    pooled,
    reference_logits,
    split_maps,
)
from butterflyer.train.schedule import cosine_lr

log = logging.getLogger(__name__)
EpochHook = Callable[[dict[str, float]], None]
ProgressHook = Callable[[str, int, int], None]
LWF_TEMPERATURE = 2.0


@dataclass
class FastResult:
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    val_logits: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None


def cached_maps(
    cfg: TrainConfig,
    cut: Cut,
    dc: DataConfig,
    split: str,
    flip: bool,
    labels: list[str],
    progress: ProgressHook | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prefix's maps for one split and view, from the shared cache or computed (then cached)."""
    maps = split_maps(cut.prefix, cfg.input, split, dc, labels, flip=flip, progress=progress,
                      workers=cfg.num_workers)
    return maps.maps, maps.labels


class MapBank:
    """Cached maps, optionally followed by their mirror images (flipped on the fly, never stored twice).

    Mirroring a feature map approximates the features of the mirrored photo: a free
    augmentation that doubles the training set without another backbone pass.
    """

    def __init__(self, maps: torch.Tensor, labels: torch.Tensor, mirrored: bool = False) -> None:
        self.maps, self.base_labels, self.mirrored = maps, labels, mirrored
        self.labels = torch.cat([labels, labels]) if mirrored else labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: torch.Tensor | slice) -> torch.Tensor:
        if isinstance(idx, slice):
            idx = torch.arange(len(self))[idx]
        n = len(self.maps)
        out = self.maps[idx % n].float()
        flip = idx >= n
        if flip.any():
            out[flip] = out[flip].flip(-1)
        return out


def _pool(suffix: nn.Module, maps: torch.Tensor | MapBank, chunk: int = 256) -> torch.Tensor:
    """The suffix's pooled features of every map (bfloat16 arithmetic where the CPU has it)."""
    return pooled(suffix, maps, chunk)


@torch.no_grad()
def _accuracy(head: nn.Module, feats: torch.Tensor, ys: torch.Tensor) -> tuple[float, float]:
    head.eval()
    logits = head(feats)
    top1 = (logits.argmax(1) == ys).float().mean().item()
    loss = F.cross_entropy(logits, ys).item()
    return top1, loss


def _set_lr(opt: torch.optim.Optimizer, factor: float) -> None:
    for group in opt.param_groups:
        group["lr"] = group["base_lr"] * factor


def train_head(
    head: nn.Linear,
    dropout: nn.Module,
    feats: torch.Tensor,
    ys: torch.Tensor,
    val_feats: torch.Tensor,
    val_ys: torch.Tensor,
    cfg: TrainConfig,
    on_epoch: EpochHook | None = None,
    gen: torch.Generator | None = None,
) -> list[dict[str, float]]:
    """Train ``head`` on fixed features (AdamW, label smoothing, warm-up + cosine); per-epoch records."""
    epochs = cfg.fast_head_epochs
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for group in opt.param_groups:
        group["base_lr"] = cfg.lr
    bs = max(cfg.batch_size, 128)
    steps_per_epoch = math.ceil(len(feats) / bs)
    total, warm = epochs * steps_per_epoch, steps_per_epoch
    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(epochs):
        head.train()
        dropout.train()
        perm = torch.randperm(len(feats), generator=gen)
        seen_loss = 0.0
        for i in range(0, len(feats), bs):
            idx = perm[i : i + bs]
            _set_lr(opt, cosine_lr(step, total, warm))
            loss = F.cross_entropy(head(dropout(feats[idx])), ys[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen_loss += loss.item() * len(idx)
            step += 1
        val_top1, val_loss = _accuracy(head, val_feats, val_ys)
        record = {
            "epoch": float(epoch + 1),
            "stage": 1.0,
            "train_loss": seen_loss / len(feats),
            "val_top1": val_top1,
            "val_loss": val_loss,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history


def lwf_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = LWF_TEMPERATURE
) -> torch.Tensor:
    """KL(teacher || student) on softened ImageNet logits (learning without forgetting)."""
    return kd_loss(student_logits, teacher_logits, temperature)


def late_stage_plan(cfg: TrainConfig) -> LateStageConfig:
    """The late-stage fine-tune of ``cfg``: labels (label smoothing) plus learning without forgetting."""
    return LateStageConfig(
        epochs=cfg.fast_finetune_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr * cfg.backbone_lr_mult,
        head_lr=cfg.lr * cfg.fast_finetune_head_lr_mult,
        weight_decay=cfg.weight_decay,
        temperature=LWF_TEMPERATURE,
        alpha=0.0,  # no species teacher: the labels
        imagenet_weight=cfg.lwf_weight,
        label_smoothing=cfg.label_smoothing,
        mirror=cfg.fast_flip != "none",
        map_jitter=cfg.fast_map_jitter,
        max_steps=cfg.max_steps,
    )


@torch.no_grad()
def imagenet_agreement(model: ButterflyClassifier, feats: torch.Tensor, ref_feats: torch.Tensor) -> float:
    """Share of examples whose ImageNet top-1 class is unchanged from the original network's."""
    if model.imagenet_head is None or len(feats) == 0:
        return float("nan")
    head = model.imagenet_head
    return (head(feats).argmax(1) == head(ref_feats).argmax(1)).float().mean().item()


def train_fast(
    cfg: TrainConfig,
    model: ButterflyClassifier,
    labels: list[str],
    dc: DataConfig,
    on_epoch: EpochHook | None = None,
    progress: ProgressHook | None = None,
) -> FastResult:
    """Run the whole fast path on CPU; ``model`` is updated in place."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(pick_threads(cfg.threads))
    try:
        return _train_fast(cfg, model, labels, dc, on_epoch, progress)
    finally:
        torch.set_num_threads(threads_before)


def _train_fast(
    cfg: TrainConfig,
    model: ButterflyClassifier,
    labels: list[str],
    dc: DataConfig,
    on_epoch: EpochHook | None,
    progress: ProgressHook | None,
) -> FastResult:
    gen = torch.Generator().manual_seed(cfg.seed)
    result = FastResult()
    result.metrics["threads"] = float(torch.get_num_threads())
    t0 = time.perf_counter()
    finetune = cfg.fast_finetune_epochs > 0
    cut = cut_backbone(model, cfg.fast_finetune_blocks)
    if not cut.trainable_suffix:
        finetune = False

    def maps_for(split: str, flip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        return cached_maps(cfg, cut, dc, split, flip, labels, progress)

    maps, ys = maps_for("train")
    if cfg.fast_flip == "images":  # exact mirrored photos: a second backbone pass over train
        flip_maps, flip_ys = maps_for("train", flip=True)
        maps, ys = torch.cat([maps, flip_maps]), torch.cat([ys, flip_ys])
    train_maps = MapBank(maps, ys, mirrored=cfg.fast_flip == "maps")
    train_ys = train_maps.labels
    val_maps, val_ys = maps_for("val")
    result.timings["features_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    train_feats = _pool(cut.suffix, train_maps)
    val_feats = _pool(cut.suffix, val_maps)
    history = train_head(
        model.head, model.dropout, train_feats, train_ys, val_feats, val_ys, cfg, on_epoch, gen
    )
    result.timings["head_s"] = time.perf_counter() - t1
    result.metrics["val_top1_head_only"] = history[-1]["val_top1"] if history else float("nan")
    if finetune:
        t2 = time.perf_counter()
        train, val = Maps(maps, ys), Maps(val_maps, val_ys)
        # the untouched network's ImageNet logits: the targets that keep the features general
        targets = reference_logits(model, cut.suffix, train, species=False, imagenet=cfg.lwf_weight > 0)
        stats = fit_late_stages(
            model,
            cut.suffix,
            LateStageData(train, val, targets),
            late_stage_plan(cfg),
            progress,
            on_epoch,
            seed=cfg.seed,
            epoch0=len(history),
        )
        history += stats.history
        result.timings["finetune_s"] = time.perf_counter() - t2
        result.metrics["finetune_best_epoch"] = float(stats.best_epoch)
        new_val_feats = _pool(cut.suffix, val_maps)
        result.metrics["imagenet_agreement_val"] = imagenet_agreement(model, new_val_feats, val_feats)
        val_feats = new_val_feats
    elif model.imagenet_head is not None:
        result.metrics["imagenet_agreement_val"] = 1.0
    result.metrics["val_top1"], result.metrics["val_loss"] = _accuracy(model.head, val_feats, val_ys)
    with torch.no_grad():
        model.head.eval()
        result.val_logits, result.val_labels = model.head(val_feats).float(), val_ys
    result.history = history
    return result
