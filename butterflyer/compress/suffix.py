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
exactly the distilled late part applied to the cached maps.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from butterflyer.compress.distill import DistillConfig, distillation_loss, recalibrate_bn
from butterflyer.errors import CompressionError, DataError
from butterflyer.models import ButterflyClassifier
from butterflyer.models.meta import DataConfig
from butterflyer.train.features import (
    Cut,
    cache_key,
    cpu_supports_bf16,
    cut_backbone,
    extract,
    load_cached,
    save_cached,
)
from butterflyer.train.schedule import cosine_lr

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
RECALIBRATION_BATCHES = 8  # x 256 train maps for the BatchNorm statistics after pruning


@dataclass
class Maps:
    """Cached early-stage maps (float16 ``N, C, H, W``) of one split and their labels."""

    maps: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Targets:
    """The teacher's species and ImageNet logits on each map (``plain``) and on its mirror image."""

    plain: tuple[torch.Tensor, torch.Tensor | None]
    mirrored: tuple[torch.Tensor, torch.Tensor | None]


@dataclass
class SuffixData:
    """Everything :func:`distill_suffix` trains and selects on."""

    stages: int
    train: Maps
    val: Maps
    targets: Targets


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


def weights_digest(model: nn.Module) -> str:
    """A short hash of a model's parameters and buffers (the feature-cache key of its maps)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def split_maps(model: ButterflyClassifier, stages: int, records_uri: str, split: str, config: DataConfig,
               labels: list[str], progress: Progress | None = None) -> Maps:
    """The maps of ``split`` entering the last ``stages`` stages; cached under ``cache/features``."""
    from butterflyer.train.data import split_size
    from butterflyer.train.fastpath import eval_batches

    cut = suffix_cut(model, stages)
    bf16 = cpu_supports_bf16()  # twice as fast where the CPU has native bfloat16; maps are stored as float16
    key = cache_key(kind="compress-prefix", bf16=bf16, weights=weights_digest(cut.prefix),
                    records=_records_id(records_uri), split=split, stages=stages, dc=config.model_dump(),
                    labels=labels)
    hit = load_cached(key)
    if hit is not None:
        log.info("prefix maps of %s from the cache", split)
        return Maps(*hit)
    total = split_size(str(records_uri), split)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(f"early-stage maps of {split}", done[0], total)

    maps, ys = extract(cut.prefix, eval_batches(str(records_uri), split, config, False, 64, 0, labels),
                       total, torch.device("cpu"), bf16=bf16, progress=tick)
    if not len(ys):
        raise CompressionError(f"split '{split}' of {records_uri} holds no images")
    save_cached(key, maps, ys)
    return Maps(maps.clone(), ys.clone())  # plain tensors: extract() ran in inference mode


def _records_id(records_uri: str) -> str:
    """The records' lineage id (``manifest_sha256``), else the URI (an image folder)."""
    from butterflyer.data.manifest import manifest_sha256

    try:
        return manifest_sha256(records_uri)
    except DataError:
        return str(records_uri)


def _heads(model: ButterflyClassifier, feats: torch.Tensor, train: bool = False
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    species = model.head(model.dropout(feats) if train else feats)
    inet = model.imagenet_head(feats) if model.imagenet_head is not None else None
    return species, inet


def _batch(maps: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """float32 channels-last maps (twice as fast as contiguous NCHW for these convolutions on CPU)."""
    x = maps.float()
    return (x.flip(-1) if flip else x).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def teacher_targets(teacher: ButterflyClassifier, stages: int, maps: Maps, chunk: int = 64) -> Targets:
    """Teacher logits on every map and on its mirror image (computed once, reused every epoch)."""
    cut = suffix_cut(teacher, stages)
    teacher.eval()
    cut.suffix.to(memory_format=torch.channels_last)

    bf16 = cpu_supports_bf16()  # soft targets tolerate bfloat16; twice as fast where the CPU has it

    def run(flip: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        species, inet = [], []
        for i in range(0, len(maps), chunk):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                s, n = _heads(teacher, cut.suffix(_batch(maps.maps[i:i + chunk], flip)))
            species.append(s.float())
            if n is not None:
                inet.append(n.float())
        return torch.cat(species), (torch.cat(inet) if inet else None)

    try:
        return Targets(run(False), run(True))
    finally:
        cut.suffix.to(memory_format=torch.contiguous_format)


def suffix_data(teacher: ButterflyClassifier, records_uri: str, config: DataConfig, labels: list[str],
                stages: int, progress: Progress | None = None) -> SuffixData:
    """Maps of train and val plus the teacher's targets on train."""
    train = split_maps(teacher, stages, records_uri, "train", config, labels, progress)
    val = split_maps(teacher, stages, records_uri, "val", config, labels, progress)
    if progress:
        progress("teacher outputs on the cached maps", 0, 0)
    return SuffixData(stages, train, val, teacher_targets(teacher, stages, train))


@torch.no_grad()
def maps_top1(model: ButterflyClassifier, stages: int, maps: Maps, chunk: int = 64) -> float:
    """Species top-1 (fraction) of ``model`` on cached maps."""
    cut = suffix_cut(model, stages)
    was = model.training
    model.eval()
    right = 0
    for i in range(0, len(maps), chunk):
        logits, _ = _heads(model, cut.suffix(_batch(maps.maps[i:i + chunk])))
        right += int((logits.argmax(1) == maps.labels[i:i + chunk]).sum())
    model.train(was)
    return right / len(maps)


def _pick(pair: tuple[torch.Tensor, torch.Tensor | None], idx: torch.Tensor, other: tuple[torch.Tensor,
          torch.Tensor | None], flip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    species = torch.where(flip[:, None], other[0][idx], pair[0][idx])
    inet = None
    if pair[1] is not None and other[1] is not None:
        inet = torch.where(flip[:, None], other[1][idx], pair[1][idx])
    return species, inet


def distill_suffix(student: ButterflyClassifier, teacher: ButterflyClassifier, data: SuffixData,
                   config: SuffixConfig, progress: Progress | None = None, seed: int = 0) -> SuffixStats:
    """Distil the student's late stages and heads on cached maps; keeps the epoch best on val.

    Each epoch visits every train map once, half of them mirrored (with the teacher's
    outputs on the mirrored view). Learning rate: linear warm-up, then cosine.
    Pruning shifts the activations of what is left, so the late stages' BatchNorm
    statistics are first measured again on train maps; then they stay frozen (their
    affine weights train), so the network trained is exactly the one evaluated and
    served. Without the re-measurement, saturated ReLU6 units stall the distillation.
    """
    if config.epochs < 1:
        return SuffixStats(0, 0, 0.0, 0)
    gen = torch.Generator().manual_seed(seed)
    run = _set_up(student, teacher, data, config, gen)
    history: list[dict[str, float]] = []
    best = (-1.0, 0, copy.deepcopy(student.state_dict()))
    start = time.perf_counter()
    try:
        for epoch in range(1, config.epochs + 1):
            loss = _epoch(run, data, config, epoch, gen, progress)
            top1 = maps_top1(student, data.stages, data.val)
            history.append({"epoch": float(epoch), "train_loss": loss, "val_top1": top1,
                            "seconds": round(time.perf_counter() - start, 1)})
            log.info("late-stage distillation epoch %d: loss %.4f, val top-1 %.4f", epoch, loss, top1)
            if top1 > best[0]:
                best = (top1, epoch, copy.deepcopy(student.state_dict()))
    finally:
        _restore(student, best[2])
    return SuffixStats(config.epochs, run.step * config.batch_size, time.perf_counter() - start, best[1],
                       history)


@dataclass
class _Run:
    """The state one distillation carries from epoch to epoch."""

    student: ButterflyClassifier
    suffix: nn.Module
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    steps_per_epoch: int
    total: int
    warm: int
    step: int = 0


def _set_up(student: ButterflyClassifier, teacher: ButterflyClassifier, data: SuffixData,
            config: SuffixConfig, gen: torch.Generator) -> _Run:
    """Check the student fits the maps, re-measure its late BatchNorm statistics, build the optimiser."""
    stages = data.stages
    student_cut = suffix_cut(student, stages)
    probe = data.train.maps[:1].float()
    with torch.no_grad():
        if not _same_prefix(student, teacher, stages):
            raise CompressionError("the student's early stages differ from the teacher's; prune only "
                                   f"the last {stages} stages (prune_to(..., last_stages={stages}))")
        student_cut.suffix.eval()(probe)  # fails early if the maps do not fit the student
    sample = torch.randperm(len(data.train), generator=gen)[:RECALIBRATION_BATCHES * 256]
    recalibrate_bn(student_cut.suffix,
                   (_batch(data.train.maps[sample[i:i + 256]]) for i in range(0, len(sample), 256)),
                   max_batches=RECALIBRATION_BATCHES)
    student.requires_grad_(False)
    trainable = [student_cut.suffix, student.head]
    for module in trainable:
        module.requires_grad_(True)
    params = [p for m in trainable for p in m.parameters()]
    kd = config.kd
    optimizer = torch.optim.AdamW(params, lr=kd.lr, weight_decay=kd.weight_decay)
    student_cut.suffix.to(memory_format=torch.channels_last)
    steps_per_epoch = max(1, len(data.train) // config.batch_size)
    total = config.epochs * steps_per_epoch
    warm = min(steps_per_epoch, max(1, total // 20))
    return _Run(student, student_cut.suffix, params, optimizer, steps_per_epoch, total, warm)


def _epoch(run: _Run, data: SuffixData, config: SuffixConfig, epoch: int, gen: torch.Generator,
           progress: Progress | None) -> float:
    """One pass over train (half the maps mirrored); returns the mean loss."""
    student, kd, bs = run.student, config.kd, config.batch_size
    student.train()
    for module in student.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    order = torch.randperm(len(data.train), generator=gen)
    running = 0.0
    for i in range(run.steps_per_epoch):
        idx = order[i * bs:(i + 1) * bs]
        flip = torch.rand(len(idx), generator=gen) < 0.5
        x = data.train.maps[idx].float()
        x[flip] = x[flip].flip(-1)
        t_species, t_inet = _pick(data.targets.plain, idx, data.targets.mirrored, flip)
        for group in run.optimizer.param_groups:
            group["lr"] = kd.lr * cosine_lr(run.step, run.total, run.warm)
        s_species, s_inet = _heads(student, run.suffix(_batch(x)), train=True)
        loss = distillation_loss(s_species, t_species, data.train.labels[idx], kd, s_inet, t_inet)
        if not torch.isfinite(loss):
            raise CompressionError(f"the distillation loss diverged in epoch {epoch}; lower lr")
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(run.params, 5.0)
        run.optimizer.step()
        running += float(loss.detach())
        run.step += 1
        if progress is not None:
            progress(f"distil late stages, epoch {epoch}/{config.epochs} (loss {running / (i + 1):.3f})",
                     i + 1, run.steps_per_epoch)
    return running / run.steps_per_epoch


def _restore(student: ButterflyClassifier, best_state: dict[str, torch.Tensor]) -> None:
    """The best epoch's weights, the usual memory layout, and the ImageNet head frozen again."""
    student.load_state_dict(best_state)
    student.to(memory_format=torch.contiguous_format)
    student.requires_grad_(True)
    if student.imagenet_head is not None:
        student.imagenet_head.requires_grad_(False)
    student.eval()


def _same_prefix(student: ButterflyClassifier, teacher: ButterflyClassifier, stages: int) -> bool:
    a, b = suffix_cut(student, stages).prefix.state_dict(), suffix_cut(teacher, stages).prefix.state_dict()
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)
