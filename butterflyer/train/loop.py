"""The full training loop (``--profile full``): two stages, one or many processes.

Stage 1 trains the head with the backbone frozen (``head_epochs``); stage 2
trains everything, the backbone at ``lr * backbone_lr_mult``. AdamW, warm-up +
cosine per stage, label smoothing, early stopping on val top-1, and a
learning-without-forgetting term that keeps the frozen ImageNet head meaningful.

:func:`fit` reads as its phases: set up (model on the device, LwF teacher,
optimizer), resume, then per epoch: enter the stage, train, validate, keep
(checkpoint, early stop); finally restore the best epoch.

Determinism: every epoch reseeds from ``(seed, epoch, rank)`` and reads the data
in an order fixed by ``(seed, epoch)``, so a run resumed from the checkpoint of
epoch ``e`` replays epochs ``e+1..`` exactly as an uninterrupted run would.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from butterflyer.models.classifier import ButterflyClassifier, DualOutput
from butterflyer.train.checkpoint import load_best, load_checkpoint, save_best, save_checkpoint
from butterflyer.train.config import TrainConfig
from butterflyer.train.distributed import DistContext
from butterflyer.train.fastpath import lwf_loss
from butterflyer.train.schedule import cosine_lr

log = logging.getLogger(__name__)
EpochHook = Callable[[dict[str, float]], None]
BatchSource = Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]


@dataclass
class LoopState:
    """What a checkpoint carries besides weights and optimizer: where the run stands."""

    epoch: int = 0  # epochs finished
    best: float = -1.0  # best val top-1 so far
    bad: int = 0  # stage-2 epochs since the last improvement
    history: list[dict[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "best": self.best, "bad": self.bad, "history": self.history}

    def stopped(self, cfg: TrainConfig) -> bool:
        return cfg.patience > 0 and self.bad >= cfg.patience


@dataclass(frozen=True)
class StagePlan:
    """How the epochs divide into the two stages and each stage's schedule length."""

    cfg: TrainConfig
    steps_per_epoch: int

    @classmethod
    def of(cls, cfg: TrainConfig, n_train: int, world: int) -> StagePlan:
        per_rank = math.ceil(n_train / world)
        return cls(cfg, max(1, math.ceil(per_rank / cfg.batch_size)))

    def stage(self, epoch: int) -> int:
        return 1 if epoch < self.cfg.head_epochs else 2

    def epochs_in(self, stage: int) -> int:
        if stage == 1:
            return min(self.cfg.head_epochs, self.cfg.epochs)
        return max(0, self.cfg.epochs - self.cfg.head_epochs)

    def first_step(self, epoch: int) -> int:
        """The stage-relative step at which ``epoch`` starts (the cosine schedule restarts per stage)."""
        first_epoch = 0 if self.stage(epoch) == 1 else self.epochs_in(1)
        return (epoch - first_epoch) * self.steps_per_epoch

    def schedule(self, stage: int) -> tuple[int, int]:
        """``(total_steps, warmup_steps)`` of one stage."""
        spe = self.steps_per_epoch
        warm = int(self.cfg.warmup_epochs * spe)
        return self.epochs_in(stage) * spe, (warm if stage == 2 else min(spe, warm))


@dataclass
class EpochSetup:
    """Everything one epoch's steps need besides the batches."""

    model: ButterflyClassifier
    net: Any  # the stage's wrapped network (DualOutput / DDP / compiled)
    ddp: nn.parallel.DistributedDataParallel | None
    teacher: nn.Module | None  # frozen backbone copy for LwF; None when LwF is off this stage
    opt: torch.optim.Optimizer
    stage: int
    bf16: bool


def _set_stage(model: ButterflyClassifier, stage: int) -> None:
    model.backbone.requires_grad_(stage == 2)
    model.head.requires_grad_(True)
    if model.imagenet_head is not None:
        model.imagenet_head.requires_grad_(False)


def _train_mode(model: ButterflyClassifier, stage: int) -> None:
    model.train()
    if stage == 1:
        model.backbone.eval()  # frozen backbone keeps its BatchNorm statistics


def _reduce(values: list[float], ctx: DistContext) -> list[float]:
    if not ctx.distributed:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()


@torch.no_grad()
def validate(model: nn.Module, batches: Iterable[Any], ctx: DistContext, bf16: bool) -> dict[str, float]:
    """Top-1 and loss over this rank's share, summed across ranks."""
    model.eval()
    # sums stay on the device (float64: the same additions the host did before), one sync at the end
    correct_acc = torch.zeros((), device=ctx.device, dtype=torch.int64)
    loss_acc = torch.zeros((), device=ctx.device, dtype=torch.float64)
    total = 0.0
    for images, labels, _ in batches:
        x, y = images.to(ctx.device, non_blocking=True), labels.to(ctx.device, non_blocking=True)
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        logits = logits.float()
        correct_acc += (logits.argmax(1) == y).sum()
        loss_acc += F.cross_entropy(logits, y, reduction="sum").double()
        total += len(y)
    correct, total, loss_sum = _reduce([float(correct_acc.item()), total, loss_acc.item()], ctx)
    return {"val_top1": correct / max(total, 1), "val_loss": loss_sum / max(total, 1), "val_n": total}


# -- set-up phases ---------------------------------------------------------------------------------


def _to_device(model: ButterflyClassifier, device: torch.device) -> None:
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)


def _lwf_teacher(model: ButterflyClassifier, cfg: TrainConfig) -> nn.Module | None:
    """A frozen copy of the backbone at its starting weights, when stage 2 uses LwF."""
    if model.imagenet_head is not None and cfg.lwf_weight > 0 and cfg.epochs > cfg.head_epochs:
        return copy.deepcopy(model.backbone).eval().requires_grad_(False)
    return None


def _optimizer(model: ButterflyClassifier, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with a backbone group (idle in stage 1) and a head group."""
    return torch.optim.AdamW(
        [
            {
                "params": list(model.backbone.parameters()),
                "lr": 0.0,
                "base_lr": cfg.lr * cfg.backbone_lr_mult,
                "name": "backbone",
            },
            {"params": list(model.head.parameters()), "lr": cfg.lr, "base_lr": cfg.lr, "name": "head"},
        ],
        weight_decay=cfg.weight_decay,
    )


def _resume(
    model: ButterflyClassifier, opt: torch.optim.Optimizer, cfg: TrainConfig, ckpt_dir: Path, ctx: DistContext
) -> LoopState:
    """The loop state to start from: the last checkpoint's with ``cfg.resume``, else a fresh one."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.resume:
        return LoopState()
    ckpt = load_checkpoint(ckpt_dir)
    if ckpt is None:
        return LoopState()
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    loop = ckpt["loop"]
    state = LoopState(loop["epoch"], loop["best"], loop["bad"], list(loop["history"]))
    if ctx.is_main:
        log.info("resuming after epoch %d (best val top-1 %.4f)", state.epoch, state.best)
    return state


# -- per-epoch phases ------------------------------------------------------------------------------


def _set_lr(opt: torch.optim.Optimizer, factor: float, stage: int) -> None:
    for group in opt.param_groups:
        active = stage == 2 or group["name"] == "head"
        group["lr"] = group["base_lr"] * factor if active else 0.0


def _step(
    s: EpochSetup, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step; returns ``(loss, logits)`` still on the device."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=s.bf16):
        if s.teacher is not None:
            logits, imagenet_logits = s.net(x)
            with torch.no_grad():
                ref = s.model.imagenet_head(s.teacher(x))  # type: ignore[misc]
            loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
            loss = loss + cfg.lwf_weight * lwf_loss(imagenet_logits.float(), ref.float())
        else:
            logits = s.net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
    s.opt.zero_grad(set_to_none=True)
    loss.backward()
    s.opt.step()
    return loss, logits


def _train_epoch(
    s: EpochSetup, batches: BatchSource, epoch: int, plan: StagePlan, n_train: int, ctx: DistContext
) -> dict[str, float]:
    """Step through one epoch's batches; returns the epoch's training figures (all ranks summed).

    ``batches(epoch)`` is called after the epoch's reseed: a DataLoader draws its workers' seeds then.
    """
    cfg, device = plan.cfg, ctx.device
    total_steps, warm = plan.schedule(s.stage)
    torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + ctx.rank)
    seen = torch.zeros(n_train, dtype=torch.int64)
    _train_mode(s.model, s.stage)
    t0 = time.perf_counter()
    loss_acc = torch.zeros((), device=device)
    correct_acc = torch.zeros((), device=device, dtype=torch.int64)
    count = 0.0
    start = step = plan.first_step(epoch)
    with s.ddp.join() if s.ddp is not None else nullcontext():
        for images, labels, idx in batches(epoch):
            _set_lr(s.opt, cosine_lr(step, total_steps, warm), s.stage)
            x = images.to(device, non_blocking=True)
            y = labels.to(device, non_blocking=True)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            loss, logits = _step(s, x, y, cfg)
            # accumulate on the device: no host sync per step (it would stall the GPU pipeline)
            loss_acc = loss_acc + loss.detach().float() * len(y)
            correct_acc = correct_acc + (logits.argmax(1) == y).sum()
            count += len(y)
            known = idx[idx >= 0].long().cpu()
            seen.index_add_(0, known, torch.ones(len(known), dtype=torch.int64))
            step += 1
            if cfg.max_steps is not None and step - start >= cfg.max_steps:
                break
    if ctx.distributed:
        dist.all_reduce(seen)
    loss_sum, correct, count = _reduce([loss_acc.item(), float(correct_acc.item()), count], ctx)
    record = {
        "epoch": float(epoch + 1),
        "stage": float(s.stage),
        "train_loss": loss_sum / max(count, 1),
        "train_top1": correct / max(count, 1),
        "train_n": count,
        "seen_min": float(seen.min()) if seen.any() else float("nan"),
        "seen_max": float(seen.max()) if seen.any() else float("nan"),
        "epoch_seconds": time.perf_counter() - t0,
        "lr_head": s.opt.param_groups[1]["lr"],
    }
    record["images_per_s"] = count / max(record["epoch_seconds"], 1e-9)
    return record


def _keep(
    record: dict[str, float],
    state: LoopState,
    s: EpochSetup,
    cfg: TrainConfig,
    ctx: DistContext,
    ckpt_dir: Path,
    on_epoch: EpochHook | None,
) -> None:
    """Book a finished epoch: best/patience, history, best weights and checkpoint, the hook."""
    epoch = int(record["epoch"])
    if record["val_top1"] > state.best:
        state.best, state.bad = record["val_top1"], 0
        improved = True
    else:
        improved = False
        if s.stage == 2:
            state.bad += 1
    state.history.append(record)
    state.epoch = epoch
    if ctx.is_main:
        if improved:
            save_best(ckpt_dir, s.model)
        save_checkpoint(ckpt_dir, s.model, s.opt, state.as_dict())
        if on_epoch is not None:
            on_epoch(record)
    if ctx.distributed:
        dist.barrier()
    if s.stage == 2 and state.stopped(cfg) and ctx.is_main:
        log.info("early stop after epoch %d: val top-1 has not improved for %d epochs", epoch, state.bad)


def fit(
    model: ButterflyClassifier,
    cfg: TrainConfig,
    train_batches: BatchSource,
    val_batches: BatchSource,
    n_train: int,
    ctx: DistContext,
    ckpt_dir: Path,
    on_epoch: EpochHook | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place (best val epoch restored at the end); returns the per-epoch history.

    ``train_batches(epoch)`` yields ``(images, labels, indices)`` for this rank, already augmented
    (on the GPU path they are decoded and augmented on the device).
    """
    _to_device(model, ctx.device)
    teacher = _lwf_teacher(model, cfg)
    opt = _optimizer(model, cfg)
    state = _resume(model, opt, cfg, ckpt_dir, ctx)
    plan = StagePlan.of(cfg, n_train, ctx.world)
    bf16 = ctx.device.type == "cuda"
    wrapped: dict[int, tuple[Any, nn.parallel.DistributedDataParallel | None]] = {}
    for epoch in range(state.epoch, cfg.epochs):
        if state.stopped(cfg):
            break
        stage = plan.stage(epoch)
        _set_stage(model, stage)
        use_lwf = teacher is not None and stage == 2
        if stage not in wrapped:  # once per stage: a new DDP or torch.compile per epoch would recompile
            wrapped[stage] = wrap_for_stage(model, use_lwf, ctx, cfg.compile)
        net, ddp = wrapped[stage]
        setup = EpochSetup(model, net, ddp, teacher if use_lwf else None, opt, stage, bf16)
        record = _train_epoch(setup, train_batches, epoch, plan, n_train, ctx)
        record.update(validate(model, val_batches(epoch), ctx, bf16))
        _keep(record, state, setup, cfg, ctx, ckpt_dir, on_epoch)
    best_state = load_best(ckpt_dir)
    if best_state is not None:
        model.load_state_dict(best_state)
    return state.history


def wrap_for_stage(model: ButterflyClassifier, use_lwf: bool, ctx: DistContext, compile_model: bool
                   ) -> tuple[Any, nn.parallel.DistributedDataParallel | None]:
    """The network one training stage steps through: DualOutput for LwF, then DDP, then torch.compile.

    Built once per stage (the set of trainable parameters changes between stages, which
    DDP's reducer and the compiled graph both capture), never once per epoch.
    """
    net: Any = DualOutput(model) if use_lwf else model
    ddp = None
    if ctx.distributed:
        cuda = ctx.device.type == "cuda"
        ddp = nn.parallel.DistributedDataParallel(net, device_ids=[ctx.device.index] if cuda else None)
        net = ddp
    if compile_model:
        net = torch.compile(net)
    return net, ddp


def loader(dataset: Any, batch_size: int, workers: int, cuda: bool) -> Callable[[int], DataLoader]:
    """``epoch -> DataLoader`` over a dataset with ``set_epoch``."""

    def make(epoch: int) -> DataLoader:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        return DataLoader(
            dataset, batch_size=batch_size, num_workers=workers, pin_memory=cuda, persistent_workers=False
        )

    return make
