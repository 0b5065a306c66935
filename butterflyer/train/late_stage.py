"""Late-stage fine-tuning on cached early-stage maps: one loop for training and for compression.

Fine-tuning a whole network on 2 CPU cores takes hours. The late stages of an
EfficientNet run on small 14x14 and 7x7 maps, so the network is cut before its
last stages: the early part runs once per photo and its maps are cached
(:func:`split_maps`); the late part and the heads train on those maps, with each
map's mirror image as free augmentation (half the maps of every batch are mirrored).

What the late stages learn towards is a :class:`Targets` of logits per map and per
mirrored map, so one loop serves two callers:

- ``butterflyer train`` (CPU profile): the labels, plus learning without forgetting:
  the untouched pretrained network's own ImageNet logits are the ImageNet head's
  targets, so the features stay general (the not-a-butterfly gate reads them);
- ``butterflyer compress``: a pruned student distilled from its teacher's species and
  ImageNet logits (the caller first re-measures the pruned stages' BatchNorm statistics).

BatchNorm statistics stay frozen while the weights move, so the network trained is
exactly the one evaluated and served; the epoch best on val top-1 is kept (never
worse than where it started).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from butterflyer.errors import DataError, TrainingError
from butterflyer.models.classifier import ButterflyClassifier
from butterflyer.models.meta import DataConfig
from butterflyer.train.features import cache_key, cpu_supports_bf16, extract, load_cached, save_cached
from butterflyer.train.schedule import cosine_lr

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
EpochHook = Callable[[dict[str, float]], None]
Logits = tuple[torch.Tensor | None, torch.Tensor | None]  # (species, ImageNet)


@dataclass
class Maps:
    """Cached early-stage maps (float16 ``N, C, H, W``) of one split and their labels."""

    maps: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Targets:
    """Logits to learn towards on each train map (``plain``) and on its mirror image.

    Each side is ``(species, imagenet)``; ``None`` leaves that term out: no species
    teacher means the labels alone, no ImageNet targets means no ImageNet term.
    """

    plain: Logits
    mirrored: Logits


@dataclass
class LateStageData:
    """Everything :func:`fit_late_stages` trains and selects on."""

    train: Maps
    val: Maps
    targets: Targets


@dataclass(frozen=True)
class LateStageConfig:
    """Knobs of one late-stage run.

    Loss: ``alpha * T^2 KL(teacher species) + (1 - alpha) * CE(labels)`` (``alpha`` counts only
    with a species teacher) ``+ imagenet_weight * T^2 KL(ImageNet targets)``.
    """

    epochs: int = 6
    batch_size: int = 64
    lr: float = 5e-4
    head_lr: float | None = None  # None: ``lr``
    weight_decay: float = 1e-5
    temperature: float = 4.0
    alpha: float = 0.7
    imagenet_weight: float = 0.5
    label_smoothing: float = 0.0
    mirror: bool = True  # half of every batch's maps mirrored (with the mirrored view's targets)
    # share of every batch's maps zoomed, shifted and turned in map space (:func:`jitter_maps`); their
    # targets stay the clean view's, so the late stages learn to answer the same under those changes
    map_jitter: float = 0.0
    max_steps: int | None = None  # a cap for tests and smoke runs


@dataclass
class LateStageStats:
    epochs: int
    images: int
    seconds: float
    best_epoch: int  # 0: no epoch beat the starting weights
    start_val_top1: float
    best_val_top1: float
    history: list[dict[str, float]] = field(default_factory=list)


# -- the cache of early-stage maps -------------------------------------------------------------------

def weights_digest(module: nn.Module) -> str:
    """A short hash of a module's parameters and buffers (the cache key of the maps it computes)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def records_id(records_uri: str) -> str:
    """The records' lineage id (``manifest_sha256``), else the URI (an image folder)."""
    from butterflyer.data.manifest import manifest_sha256

    try:
        return manifest_sha256(records_uri)
    except DataError:
        return str(records_uri)


def split_maps(prefix: nn.Module, records_uri: str, split: str, config: DataConfig, labels: list[str],
               flip: bool = False, progress: Progress | None = None, workers: int = 0,
               device: torch.device | None = None) -> Maps:
    """The maps ``prefix`` gives for every photo of ``split`` (mirrored photos with ``flip``).

    Cached under ``cache/features``, keyed by the prefix's weights, the records, the split, the view
    and the preprocessing, so training and compression share one cache.
    """
    from butterflyer.train.data import eval_batches, split_size

    device = device or torch.device("cpu")
    bf16 = device.type == "cuda" or cpu_supports_bf16()  # twice as fast where the CPU has native bf16
    key = cache_key(kind="early-stage-maps", weights=weights_digest(prefix), records=records_id(records_uri),
                    split=split, flip=flip, dc=config.model_dump(), labels=labels, bf16=bf16)
    hit = load_cached(key)
    if hit is not None:
        log.info("early-stage maps of %s%s from the cache", split, " (mirrored)" if flip else "")
        return Maps(*hit)
    total = split_size(str(records_uri), split)
    done = [0]
    name = f"early-stage maps of {split}{' (mirrored)' if flip else ''}"

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(name, done[0], total)

    maps, ys = extract(prefix, eval_batches(str(records_uri), split, config, flip, 64, workers, labels),
                       total, device, bf16=bf16, progress=tick)
    if not len(ys):
        raise DataError(f"split '{split}' of {records_uri} holds no images; rebuild the records")
    save_cached(key, maps, ys)
    return Maps(maps.clone(), ys.clone())  # plain tensors: extract() ran in inference mode


# -- the loop --------------------------------------------------------------------------------------

def kd_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence between temperature-softened distributions, scaled by ``T^2``."""
    t = temperature
    return F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher.detach() / t, dim=1),
                    reduction="batchmean", log_target=True) * (t * t)


def late_stage_loss(species: torch.Tensor, imagenet: torch.Tensor | None, labels: torch.Tensor,
                    target: Logits, config: LateStageConfig) -> torch.Tensor:
    """The objective of :class:`LateStageConfig` for one batch."""
    ce = F.cross_entropy(species, labels, label_smoothing=config.label_smoothing)
    t_species, t_imagenet = target
    if t_species is not None and config.alpha > 0:
        loss = config.alpha * kd_loss(species, t_species, config.temperature) + (1.0 - config.alpha) * ce
    else:
        loss = ce
    if imagenet is not None and t_imagenet is not None and config.imagenet_weight > 0:
        loss = loss + config.imagenet_weight * kd_loss(imagenet, t_imagenet, config.temperature)
    return loss


def as_batch(maps: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """float32 channels-last maps (twice as fast as contiguous NCHW for these convolutions on CPU)."""
    x = maps.float()
    x = x.flip(-1) if flip else x
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x  # pooled vectors stay


def jitter_maps(maps: torch.Tensor, share: float, gen: torch.Generator) -> torch.Tensor:
    """A random ``share`` of ``maps`` (float ``N, C, H, W``) zoomed in or out, shifted and turned.

    The maps' own view of a tighter or looser crop and a tilted camera: zoom 0.6-1.3 (above 1 the
    frame is filled out by reflection), shift up to 15 % of the frame, rotation up to 15 degrees.
    """
    n = len(maps)
    pick = torch.rand(n, generator=gen) < share
    k = int(pick.sum())
    if k == 0:
        return maps
    zoom = 0.6 + 0.7 * torch.rand(k, generator=gen)
    angle = (torch.rand(k, generator=gen) * 2 - 1) * (15 * torch.pi / 180)
    shift = (torch.rand(k, 2, generator=gen) * 2 - 1) * 0.3  # grid units span 2: 15 % of the frame
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    rows = (torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1))
    theta = torch.stack(rows, 1)
    sel = maps[pick]
    grid = F.affine_grid(theta.to(sel.dtype), list(sel.shape), align_corners=False)
    out = maps.clone()
    out[pick] = F.grid_sample(sel, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out


def _heads(model: ButterflyClassifier, feats: torch.Tensor, train: bool = False
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    species = model.head(model.dropout(feats) if train else feats)
    imagenet = model.imagenet_head(feats) if model.imagenet_head is not None else None
    return species, imagenet


@torch.no_grad()
def reference_logits(model: ButterflyClassifier, suffix: nn.Module, maps: Maps, species: bool = True,
                     imagenet: bool = True, chunk: int = 64) -> Targets:
    """``model``'s logits on every map and on its mirror image (computed once, reused every epoch).

    With ``species=False`` only the ImageNet logits are kept (learning without forgetting).
    """
    model.eval()
    suffix.to(memory_format=torch.channels_last)
    bf16 = cpu_supports_bf16()  # soft targets tolerate bfloat16; twice as fast where the CPU has it

    def run(flip: bool) -> Logits:
        outs: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
        for i in range(0, len(maps), chunk):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                s, n = _heads(model, suffix(as_batch(maps.maps[i:i + chunk], flip)))
            outs[0].append(s.float())
            if n is not None:
                outs[1].append(n.float())
        keep_species = torch.cat(outs[0]) if species else None
        keep_imagenet = torch.cat(outs[1]) if imagenet and outs[1] else None
        return keep_species, keep_imagenet

    try:
        return Targets(run(False), run(True))
    finally:
        suffix.to(memory_format=torch.contiguous_format)


class MapSource(Protocol):
    """Maps that can be sliced (a tensor, or a view that mirrors maps on the fly)."""

    def __len__(self) -> int: ...

    def __getitem__(self, idx: slice) -> torch.Tensor: ...


@torch.no_grad()
def pooled(suffix: nn.Module, maps: MapSource, chunk: int = 256) -> torch.Tensor:
    """The suffix's pooled features of ``maps`` (float32 out; bfloat16 arithmetic where the CPU has it)."""
    suffix.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_supports_bf16()):
        return torch.cat([suffix(as_batch(maps[i:i + chunk])).float() for i in range(0, len(maps), chunk)])


@torch.no_grad()
def maps_top1(model: ButterflyClassifier, suffix: nn.Module, maps: Maps, chunk: int = 256) -> float:
    """Species top-1 (fraction) of ``model`` on cached maps."""
    was = model.training
    model.eval()
    right = 0
    for i in range(0, len(maps), chunk):
        logits, _ = _heads(model, suffix(as_batch(maps.maps[i:i + chunk])))
        right += int((logits.argmax(1) == maps.labels[i:i + chunk]).sum())
    model.train(was)
    return right / max(len(maps), 1)


@dataclass
class _Run:
    """The state one run carries from epoch to epoch."""

    model: ButterflyClassifier
    suffix: nn.Module
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    steps_per_epoch: int
    total: int
    warm: int
    bf16: bool
    step: int = 0


def fit_late_stages(model: ButterflyClassifier, suffix: nn.Module, data: LateStageData,
                    config: LateStageConfig, progress: Progress | None = None,
                    on_epoch: EpochHook | None = None, seed: int = 0, epoch0: int = 0) -> LateStageStats:
    """Train ``suffix`` (the model's late stages, cut off by the caller) and the species head on cached maps.

    ``model``'s weights end as the best epoch's on val top-1, or as they started when no epoch beat them.
    ``on_epoch`` gets one record per epoch (numbered from ``epoch0 + 1``).
    """
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    start_top1 = maps_top1(model, suffix, data.val)
    best = (start_top1, 0, copy.deepcopy(model.state_dict()))
    if config.epochs < 1:
        return LateStageStats(0, 0, 0.0, 0, start_top1, start_top1)
    run = _set_up(model, suffix, data, config)
    history: list[dict[str, float]] = []
    try:
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            loss = _epoch(run, data, config, epoch, gen, progress)
            top1 = maps_top1(model, suffix, data.val)
            record = {"epoch": float(epoch0 + epoch), "stage": 2.0, "train_loss": loss, "val_top1": top1,
                      "epoch_seconds": time.perf_counter() - t0}
            history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            log.info("late-stage epoch %d: loss %.4f, val top-1 %.4f", epoch, loss, top1)
            if top1 > best[0]:
                best = (top1, epoch, copy.deepcopy(model.state_dict()))
            if config.max_steps is not None and run.step >= config.max_steps:
                break
    finally:
        _restore(model, best[2])
    return LateStageStats(len(history), run.step * config.batch_size, time.perf_counter() - start, best[1],
                          start_top1, best[0], history)


def _set_up(model: ButterflyClassifier, suffix: nn.Module, data: LateStageData, config: LateStageConfig
            ) -> _Run:
    """Check the maps fit the suffix and build the optimiser (two groups: late stages, species head)."""
    if not len(data.train):
        raise TrainingError("no train maps to fine-tune on; check the records' train split")
    with torch.no_grad():
        suffix.eval()(data.train.maps[:1].float())  # fails early if the maps do not fit the suffix
    model.requires_grad_(False)
    for module in (suffix, model.head):
        module.requires_grad_(True)
    head_lr = config.head_lr if config.head_lr is not None else config.lr
    late, head = list(suffix.parameters()), list(model.head.parameters())
    optimizer = torch.optim.AdamW([{"params": late, "lr": config.lr, "base_lr": config.lr},
                                   {"params": head, "lr": head_lr, "base_lr": head_lr}],
                                  weight_decay=config.weight_decay)
    suffix.to(memory_format=torch.channels_last)
    steps_per_epoch = max(1, len(data.train) // config.batch_size)
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warm = min(steps_per_epoch, max(1, total // 20))
    params = late + head
    return _Run(model, suffix, params, optimizer, steps_per_epoch, total, warm, cpu_supports_bf16())


def _pick(targets: Targets, idx: torch.Tensor, flip: torch.Tensor) -> Logits:
    """Each example's targets: the mirrored view's where its map was mirrored."""
    out: list[torch.Tensor | None] = []
    for plain, mirrored in zip(targets.plain, targets.mirrored, strict=True):
        if plain is None or mirrored is None:
            out.append(None)
        else:
            out.append(torch.where(flip[:, None], mirrored[idx], plain[idx]))
    return out[0], out[1]


def _batches(run: _Run, data: LateStageData, config: LateStageConfig, gen: torch.Generator
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = torch.randperm(len(data.train), generator=gen)
    for i in range(run.steps_per_epoch):
        idx = order[i * config.batch_size:(i + 1) * config.batch_size]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        yield idx, flip if config.mirror else torch.zeros_like(flip)


def _epoch(run: _Run, data: LateStageData, config: LateStageConfig, epoch: int, gen: torch.Generator,
           progress: Progress | None) -> float:
    """One pass over train (half the maps mirrored); returns the mean loss."""
    model = run.model
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    running, seen = 0.0, 0
    for i, (idx, flip) in enumerate(_batches(run, data, config, gen)):
        x = data.train.maps[idx].float()
        x[flip] = x[flip].flip(-1)
        if config.map_jitter > 0:
            x = jitter_maps(x, config.map_jitter, gen)
        for group in run.optimizer.param_groups:
            group["lr"] = group["base_lr"] * cosine_lr(run.step, run.total, run.warm)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=run.bf16):
            feats = run.suffix(as_batch(x))
        species, imagenet = _heads(model, feats.float(), train=True)
        target = _pick(data.targets, idx, flip)
        loss = late_stage_loss(species, imagenet, data.train.labels[idx], target, config)
        if not torch.isfinite(loss):
            raise TrainingError(f"the late-stage loss diverged in epoch {epoch}; lower the learning rate")
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(run.params, 5.0)
        run.optimizer.step()
        running += float(loss.detach())
        seen += 1
        run.step += 1
        if progress is not None:
            progress(f"late stages, epoch {epoch}/{config.epochs} (loss {running / seen:.3f})", i + 1,
                     run.steps_per_epoch)
        if config.max_steps is not None and run.step >= config.max_steps:
            break
    return running / max(seen, 1)


def _restore(model: ButterflyClassifier, best_state: dict[str, torch.Tensor]) -> None:
    """The best weights, the usual memory layout, and the ImageNet head frozen again."""
    model.load_state_dict(best_state)
    model.to(memory_format=torch.contiguous_format)  # the suffix is part of the model
    model.requires_grad_(True)
    if model.imagenet_head is not None:
        model.imagenet_head.requires_grad_(False)
    model.eval()
