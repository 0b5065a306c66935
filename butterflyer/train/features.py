"""Frozen-backbone feature caching for the CPU fast path.

The network is cut in two: a frozen ``prefix`` (stem and most blocks) whose
outputs are computed once per image and cached, and a small trainable ``suffix``
(the last blocks, ``conv_head``, pooling) that the fast path fine-tunes on the
cached maps. The cache lives under ``BUTTERFLYER_HOME/cache/features`` keyed by
model, weights, data lineage, split, view and preprocessing, so a second run on
the same records skips the expensive part. Maps are stored as float16 (half the
memory and disk; the backbone itself runs in bfloat16 on CPUs that support it).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors
from torch import nn

from butterflyer.fileio import atomic_write_bytes
from butterflyer.models.classifier import ButterflyClassifier
from butterflyer.paths import cache_dir

log = logging.getLogger(__name__)
CACHE_VERSION = 1


@dataclass
class Cut:
    """A network cut: ``suffix(prefix(x)) == backbone(x)``."""

    prefix: nn.Module
    suffix: nn.Module
    trainable_suffix: bool


class _Seq(nn.Module):
    """A sequence of existing modules (shares their parameters; no copies)."""

    def __init__(self, *mods: nn.Module) -> None:
        super().__init__()
        self.mods = nn.ModuleList(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for mod in self.mods:
            x = mod(x)
        return x


def cut_backbone(model: ButterflyClassifier, last_blocks: int = 0) -> Cut:
    """Split the backbone; timm EfficientNets train ``conv_head`` and the last ``last_blocks`` stages.

    Other architectures cache the pooled features and train the head only.
    """
    bb: Any = model.backbone  # a timm EfficientNet when the attributes below exist
    if all(hasattr(bb, name) for name in ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "global_pool")):
        keep = max(0, min(last_blocks, len(bb.blocks) - 1))
        split = len(bb.blocks) - keep
        prefix = _Seq(bb.conv_stem, bb.bn1, *bb.blocks[:split])
        suffix = _Seq(*bb.blocks[split:], bb.conv_head, bb.bn2, bb.global_pool)
        return Cut(prefix, suffix, True)
    return Cut(bb, nn.Identity(), False)


def _autocast(device: torch.device, enabled: bool):  # noqa: ANN202
    if not enabled:
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bfloat16 arithmetic (AVX512-BF16/AMX), where bf16 autocast is fast."""
    try:
        return "AVX512" in torch.backends.cpu.get_cpu_capability() and _has_flag("avx512_bf16")
    except (AttributeError, RuntimeError):
        return False


def pick_threads(requested: int | None = None) -> int:
    """Intra-op threads: ``requested``, else all cores unless the machine is already busy.

    On a shared, loaded machine OpenMP threads spin waiting for each other; one
    thread was 4x faster than two for lite0 at load 8 on 2 cores (measured).
    """
    if requested:
        return max(1, requested)
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return 1 if load > cores else cores


def _has_flag(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            return any(flag in line for line in fh if line.startswith("flags"))
    except OSError:
        return False


@torch.inference_mode()
def extract(
    prefix: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    total: int,
    device: torch.device,
    bf16: bool,
    progress: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``prefix`` over ``batches`` of ``(images, labels)``; returns float16 maps and int64 labels."""
    prefix = prefix.eval().to(device)
    channels_last = device.type in ("cpu", "cuda")
    if channels_last:
        prefix = prefix.to(memory_format=torch.channels_last)
    outs: list[torch.Tensor] = []
    ys: list[torch.Tensor] = []
    for images, labels in batches:
        x = images.to(device)
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(device, bf16):
            out = prefix(x)
        outs.append(out.float().to(torch.float16).contiguous().cpu())
        ys.append(torch.as_tensor(labels, dtype=torch.int64))
        if progress is not None:
            progress(len(x))
    if not outs:
        return torch.empty(0), torch.empty(0, dtype=torch.int64)
    if total and sum(len(o) for o in outs) != total:
        log.warning("expected %d examples, extracted %d", total, sum(len(o) for o in outs))
    return torch.cat(outs), torch.cat(ys)


def cache_key(**parts: object) -> str:
    """A stable hash of everything that changes the cached maps."""
    blob = json.dumps({"v": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def load_cached(key: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Cached ``(maps, labels)`` for ``key``, or ``None``."""
    path = cache_dir() / "features" / f"{key}.safetensors"
    if not path.is_file():
        return None
    try:
        data = load_file(str(path))
    except (OSError, RuntimeError, ValueError):
        log.warning("ignoring unreadable feature cache %s", path)
        return None
    return data["maps"], data["labels"]


def save_cached(key: str, maps: torch.Tensor, labels: torch.Tensor) -> None:
    """Store ``(maps, labels)`` under ``key`` atomically."""
    path = cache_dir() / "features" / f"{key}.safetensors"
    atomic_write_bytes(path, save_safetensors({"maps": maps.contiguous(), "labels": labels.contiguous()}))


def frozen_copy(module: nn.Module) -> nn.Module:
    """An independent, frozen, eval-mode copy (the teacher for learning without forgetting)."""
    teacher = copy.deepcopy(module).eval()
    teacher.requires_grad_(False)
    return teacher
