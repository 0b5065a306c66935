"""The full training loop (``--profile full``): two stages, one or many processes.

Stage 1 trains the head with the backbone frozen (``head_epochs``); stage 2
trains everything, the backbone at ``lr * backbone_lr_mult``. AdamW, warm-up +
cosine per stage, label smoothing, early stopping on val top-1, and a
learning-without-forgetting term that keeps the frozen ImageNet head meaningful.

Determinism: every epoch reseeds from ``(seed, epoch, rank)`` and reads the data
in an order fixed by ``(seed, epoch)``, so a run resumed from the checkpoint of
epoch ``e`` replays epochs ``e+1..`` exactly as an uninterrupted run would.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
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
    correct = total = loss_sum = 0.0
    for images, labels, _ in batches:
        x, y = images.to(ctx.device, non_blocking=True), labels.to(ctx.device)
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        logits = logits.float()
        correct += (logits.argmax(1) == y).sum().item()
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        total += len(y)
    correct, total, loss_sum = _reduce([correct, total, loss_sum], ctx)
    return {"val_top1": correct / max(total, 1), "val_loss": loss_sum / max(total, 1), "val_n": total}


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
    device = ctx.device
    cuda = device.type == "cuda"
    model.to(device)
    if cuda:
        model.to(memory_format=torch.channels_last)
    teacher = None
    if model.imagenet_head is not None and cfg.lwf_weight > 0 and cfg.epochs > cfg.head_epochs:
        teacher = copy.deepcopy(model.backbone).eval().requires_grad_(False)
    backbone_params = list(model.backbone.parameters())
    head_params = list(model.head.parameters())
    opt = torch.optim.AdamW(
        [
            {
                "params": backbone_params,
                "lr": 0.0,
                "base_lr": cfg.lr * cfg.backbone_lr_mult,
                "name": "backbone",
            },
            {"params": head_params, "lr": cfg.lr, "base_lr": cfg.lr, "name": "head"},
        ],
        weight_decay=cfg.weight_decay,
    )
    history: list[dict[str, float]] = []
    start, best, bad = 0, -1.0, 0
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if cfg.resume:
        ckpt = load_checkpoint(ckpt_dir)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            loop = ckpt["loop"]
            start, best, bad, history = loop["epoch"], loop["best"], loop["bad"], list(loop["history"])
            if ctx.is_main:
                log.info("resuming after epoch %d (best val top-1 %.4f)", start, best)
    per_rank = math.ceil(n_train / ctx.world)
    spe = max(1, math.ceil(per_rank / cfg.batch_size))
    stage_epochs = {1: min(cfg.head_epochs, cfg.epochs), 2: max(0, cfg.epochs - cfg.head_epochs)}
    bf16 = cuda
    stopped = bad >= cfg.patience > 0
    wrapped: dict[int, tuple[Any, nn.parallel.DistributedDataParallel | None]] = {}
    for epoch in range(start, cfg.epochs):
        if stopped:
            break
        stage = 1 if epoch < cfg.head_epochs else 2
        _set_stage(model, stage)
        use_lwf = teacher is not None and stage == 2
        if stage not in wrapped:  # once per stage: a new DDP or torch.compile per epoch would recompile
            wrapped[stage] = wrap_for_stage(model, use_lwf, ctx, cfg.compile)
        net, ddp = wrapped[stage]
        first = 0 if stage == 1 else stage_epochs[1]
        total_steps = stage_epochs[stage] * spe
        warm = int(cfg.warmup_epochs * spe) if stage == 2 else min(spe, int(cfg.warmup_epochs * spe))
        torch.manual_seed(cfg.seed * 1_000_003 + epoch * 1009 + ctx.rank)
        seen = torch.zeros(n_train, dtype=torch.int64)
        _train_mode(model, stage)
        t0 = time.perf_counter()
        loss_acc = torch.zeros((), device=device)
        correct_acc = torch.zeros((), device=device, dtype=torch.int64)
        count = 0.0
        step = (epoch - first) * spe
        ctxm = ddp.join() if ddp is not None else nullcontext()
        with ctxm:
            for images, labels, idx in train_batches(epoch):
                factor = cosine_lr(step, total_steps, warm)
                for group in opt.param_groups:
                    active = stage == 2 or group["name"] == "head"
                    group["lr"] = group["base_lr"] * factor if active else 0.0
                x = images.to(device, non_blocking=True)
                y = labels.to(device, non_blocking=True)
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    if use_lwf:
                        logits, imagenet_logits = net(x)
                        with torch.no_grad():
                            ref = model.imagenet_head(teacher(x))  # type: ignore[misc]
                        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
                        loss = loss + cfg.lwf_weight * lwf_loss(imagenet_logits.float(), ref.float())
                    else:
                        logits = net(x)
                        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                # accumulate on the device: no host sync per step (it would stall the GPU pipeline)
                loss_acc = loss_acc + loss.detach().float() * len(y)
                correct_acc = correct_acc + (logits.argmax(1) == y).sum()
                count += len(y)
                known = idx[idx >= 0].long().cpu()
                seen.index_add_(0, known, torch.ones(len(known), dtype=torch.int64))
                step += 1
                if cfg.max_steps is not None and step - (epoch - first) * spe >= cfg.max_steps:
                    break
        if ctx.distributed:
            dist.all_reduce(seen)
        loss_sum, correct, count = _reduce([loss_acc.item(), float(correct_acc.item()), count], ctx)
        record = {
            "epoch": float(epoch + 1),
            "stage": float(stage),
            "train_loss": loss_sum / max(count, 1),
            "train_top1": correct / max(count, 1),
            "train_n": count,
            "seen_min": float(seen.min()) if seen.any() else float("nan"),
            "seen_max": float(seen.max()) if seen.any() else float("nan"),
            "epoch_seconds": time.perf_counter() - t0,
            "lr_head": opt.param_groups[1]["lr"],
        }
        record["images_per_s"] = count / max(record["epoch_seconds"], 1e-9)
        record.update(validate(model, val_batches(epoch), ctx, bf16))
        improved = record["val_top1"] > best
        if improved:
            best, bad = record["val_top1"], 0
        elif stage == 2:
            bad += 1
        history.append(record)
        if ctx.is_main:
            if improved:
                save_best(ckpt_dir, model)
            save_checkpoint(
                ckpt_dir, model, opt, {"epoch": epoch + 1, "best": best, "bad": bad, "history": history}
            )
            if on_epoch is not None:
                on_epoch(record)
            _fault_injection(epoch + 1)
        if ctx.distributed:
            dist.barrier()
        stopped = stage == 2 and cfg.patience > 0 and bad >= cfg.patience
        if stopped and ctx.is_main:
            log.info("early stop after epoch %d: val top-1 has not improved for %d epochs", epoch + 1, bad)
    best_state = load_best(ckpt_dir)
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


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


def _fault_injection(epoch: int) -> None:
    """``BUTTERFLYER_KILL_AFTER_EPOCH=N``: SIGKILL right after epoch N's checkpoint (resume tests)."""
    target = os.environ.get("BUTTERFLYER_KILL_AFTER_EPOCH")
    if target and int(target) == epoch:
        os.kill(os.getpid(), signal.SIGKILL)


def loader(dataset: Any, batch_size: int, workers: int, cuda: bool) -> Callable[[int], DataLoader]:
    """``epoch -> DataLoader`` over a dataset with ``set_epoch``."""

    def make(epoch: int) -> DataLoader:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        return DataLoader(
            dataset, batch_size=batch_size, num_workers=workers, pin_memory=cuda, persistent_workers=False
        )

    return make
