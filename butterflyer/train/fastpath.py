"""The CPU fast path: cached frozen-backbone maps, a head trained in seconds, a brief fine-tune.

1. Run the frozen prefix of the backbone once over train (plus a mirrored view of
   each train image: cached augmentation), val and test; cache the maps.
2. Train the species head on pooled features (AdamW, label smoothing, cosine).
3. Optionally fine-tune the suffix (``conv_head`` and the last blocks) with the
   head for a few epochs on the cached maps, with a learning-without-forgetting
   term that keeps the frozen ImageNet head's predictions close to the original
   ones (the serving gate reads them). The best epoch on val top-1 is kept.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from butterflyer.models.classifier import ButterflyClassifier
from butterflyer.models.meta import DataConfig
from butterflyer.train.config import TrainConfig
from butterflyer.train.data import eval_transform, open_split, split_size
from butterflyer.train.features import (
    Cut,
    cache_key,
    cpu_supports_bf16,
    cut_backbone,
    extract,
    load_cached,
    pick_threads,
    save_cached,
)
from butterflyer.train.schedule import cosine_lr

log = logging.getLogger(__name__)
EpochHook = Callable[[dict[str, float]], None]
ProgressHook = Callable[[str, int, int], None]


@dataclass
class FastResult:
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    val_logits: torch.Tensor | None = None
    val_labels: torch.Tensor | None = None


def eval_batches(
    uri: str, split: str, dc: DataConfig, flip: bool, batch_size: int, workers: int, labels: list[str]
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(images, labels)`` batches of one split in record order, evaluation preprocessing (or mirrored)."""
    tf = eval_transform(dc)
    if flip:
        tf = v2.Compose([v2.RandomHorizontalFlip(p=1.0), tf])
    ds = open_split(uri, split, tf, shuffle=False, labels=labels)
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers)
    for images, ys, _ in loader:
        yield images, ys


def cached_maps(
    cfg: TrainConfig,
    cut: Cut,
    dc: DataConfig,
    split: str,
    flip: bool,
    data_sha: str,
    labels: list[str],
    device: torch.device,
    progress: ProgressHook | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The prefix's maps for one split and view, from the cache or computed (then cached)."""
    key = cache_key(
        model=cfg.model,
        weights=cfg.weights,
        pretrained=cfg.pretrained,
        data=data_sha,
        split=split,
        flip=flip,
        dc=dc.model_dump(),
        blocks=cfg.fast_finetune_blocks,
    )
    hit = load_cached(key)
    if hit is not None:
        log.info("feature cache hit for %s%s", split, " (mirrored)" if flip else "")
        return hit
    total = split_size(cfg.input, split)
    bf16 = device.type == "cuda" or cpu_supports_bf16()
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(f"features {split}{' mirrored' if flip else ''}", done[0], total)

    maps, ys = extract(
        cut.prefix,
        eval_batches(cfg.input, split, dc, flip, 64, cfg.num_workers, labels),
        total,
        device,
        bf16,
        tick,
    )
    save_cached(key, maps, ys)
    return maps, ys


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


@torch.no_grad()
def _pool(suffix: nn.Module, maps: torch.Tensor | MapBank, chunk: int = 256) -> torch.Tensor:
    suffix.eval()
    return torch.cat([suffix(maps[i : i + chunk].float()) for i in range(0, len(maps), chunk)])


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


def finetune_suffix(
    model: ButterflyClassifier,
    cut: Cut,
    maps: MapBank,
    ys: torch.Tensor,
    teacher_feats: torch.Tensor | None,
    val_maps: torch.Tensor,
    val_ys: torch.Tensor,
    cfg: TrainConfig,
    epoch0: int,
    best_top1: float,
    on_epoch: EpochHook | None = None,
    gen: torch.Generator | None = None,
) -> list[dict[str, float]]:
    """Fine-tune suffix + head on cached maps; keeps the best val top-1 weights; BN stats frozen."""
    suffix, head = cut.suffix, model.head
    imagenet = model.imagenet_head
    params = [p for p in suffix.parameters() if p.requires_grad]
    base_backbone, base_head = cfg.lr * cfg.backbone_lr_mult, cfg.lr * 0.1
    opt = torch.optim.AdamW(
        [
            {"params": params, "lr": base_backbone, "base_lr": base_backbone},
            {"params": list(head.parameters()), "lr": base_head, "base_lr": base_head},
        ],
        weight_decay=cfg.weight_decay,
    )
    bs = cfg.batch_size
    steps_per_epoch = math.ceil(len(maps) / bs)
    total = cfg.fast_finetune_epochs * steps_per_epoch
    warm = max(1, int(cfg.warmup_epochs * steps_per_epoch))
    bf16 = cpu_supports_bf16()
    best_state = {k: v.clone() for k, v in _trainable_state(model, cut).items()}
    history: list[dict[str, float]] = []
    step = 0
    for epoch in range(cfg.fast_finetune_epochs):
        suffix.eval()  # BatchNorm statistics stay as pretrained; only weights move
        head.train()
        model.dropout.train()
        perm = torch.randperm(len(maps), generator=gen)
        seen_loss, t0 = 0.0, time.perf_counter()
        for i in range(0, len(maps), bs):
            idx = perm[i : i + bs]
            _set_lr(opt, cosine_lr(step, total, warm))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                feats = suffix(maps[idx])
            feats = feats.float()
            loss = F.cross_entropy(head(model.dropout(feats)), ys[idx], label_smoothing=cfg.label_smoothing)
            if imagenet is not None and teacher_feats is not None and cfg.lwf_weight > 0:
                loss = loss + cfg.lwf_weight * lwf_loss(imagenet(feats), imagenet(teacher_feats[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen_loss += loss.item() * len(idx)
            step += 1
            if cfg.max_steps is not None and step >= cfg.max_steps:
                break
        val_feats = _pool(suffix, val_maps)
        val_top1, val_loss = _accuracy(head, val_feats, val_ys)
        record = {
            "epoch": float(epoch0 + epoch + 1),
            "stage": 2.0,
            "train_loss": seen_loss / len(maps),
            "val_top1": val_top1,
            "val_loss": val_loss,
            "epoch_seconds": time.perf_counter() - t0,
        }
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if val_top1 > best_top1:
            best_top1 = val_top1
            best_state = {k: v.clone() for k, v in _trainable_state(model, cut).items()}
        if cfg.max_steps is not None and step >= cfg.max_steps:
            break
    _load_trainable_state(model, cut, best_state)
    return history


def lwf_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    """KL(teacher || student) on softened ImageNet logits (learning without forgetting)."""
    t = temperature
    return (
        F.kl_div(
            F.log_softmax(student_logits / t, 1),
            F.log_softmax(teacher_logits.detach() / t, 1),
            log_target=True,
            reduction="batchmean",
        )
        * t
        * t
    )


def _trainable_state(model: ButterflyClassifier, cut: Cut) -> dict[str, torch.Tensor]:
    state = {f"suffix.{k}": v for k, v in cut.suffix.state_dict().items()}
    state.update({f"head.{k}": v for k, v in model.head.state_dict().items()})
    return state


def _load_trainable_state(model: ButterflyClassifier, cut: Cut, state: dict[str, torch.Tensor]) -> None:
    cut.suffix.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("suffix.")})
    model.head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("head.")})


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
    data_sha: str,
    on_epoch: EpochHook | None = None,
    progress: ProgressHook | None = None,
) -> FastResult:
    """Run the whole fast path on CPU; ``model`` is updated in place."""
    threads_before = torch.get_num_threads()
    torch.set_num_threads(pick_threads(cfg.threads))
    try:
        return _train_fast(cfg, model, labels, dc, data_sha, on_epoch, progress)
    finally:
        torch.set_num_threads(threads_before)


def _train_fast(
    cfg: TrainConfig,
    model: ButterflyClassifier,
    labels: list[str],
    dc: DataConfig,
    data_sha: str,
    on_epoch: EpochHook | None,
    progress: ProgressHook | None,
) -> FastResult:
    device = torch.device("cpu")
    gen = torch.Generator().manual_seed(cfg.seed)
    result = FastResult()
    result.metrics["threads"] = float(torch.get_num_threads())
    t0 = time.perf_counter()
    finetune = cfg.fast_finetune_epochs > 0
    cut = cut_backbone(model, cfg.fast_finetune_blocks)
    if not cut.trainable_suffix:
        finetune = False

    def maps_for(split: str, flip: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        return cached_maps(cfg, cut, dc, split, flip, data_sha, labels, device, progress)

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
        for p in cut.suffix.parameters():
            p.requires_grad_(True)
        best = history[-1]["val_top1"] if history else 0.0
        history += finetune_suffix(
            model,
            cut,
            train_maps,
            train_ys,
            train_feats,
            val_maps,
            val_ys,
            cfg,
            len(history),
            best,
            on_epoch,
            gen,
        )
        result.timings["finetune_s"] = time.perf_counter() - t2
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
