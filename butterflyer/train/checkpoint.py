"""Per-epoch training checkpoints (atomic), and the best weights so far.

``last.pt`` holds model and optimizer state plus the loop's bookkeeping and is
written every epoch with temp-file + rename, so ``kill -9`` at any moment leaves
either the previous or the new checkpoint, never a torn one. It is read back
with ``weights_only=True`` (tensors and plain containers only, nothing
unpickled). ``best.safetensors`` holds the weights of the best validation epoch.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors
from torch import nn

from butterflyer.errors import ModelError
from butterflyer.fileio import atomic_write_bytes

LAST = "last.pt"
BEST = "best.safetensors"


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    return {k: v.detach().cpu().contiguous() for k, v in inner.state_dict().items()}


def save_checkpoint(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, loop: dict[str, Any]
) -> Path:
    """Write ``last.pt`` atomically: model, optimizer and ``loop`` (epoch, best, history, ...)."""
    buf = io.BytesIO()
    torch.save({"model": _state(model), "optimizer": optimizer.state_dict(), "loop": loop}, buf)
    return atomic_write_bytes(Path(folder) / LAST, buf.getvalue())


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    """The last checkpoint in ``folder``, or ``None`` if there is none."""
    path = Path(folder) / LAST
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        raise ModelError(
            f"checkpoint {path} is unreadable ({exc}); delete it to start over without --resume"
        ) from exc


def save_best(folder: Path, model: nn.Module) -> Path:
    """Write the current weights as ``best.safetensors``."""
    return atomic_write_bytes(Path(folder) / BEST, save_safetensors(_state(model)))


def load_best(folder: Path) -> dict[str, torch.Tensor] | None:
    path = Path(folder) / BEST
    return load_file(str(path)) if path.is_file() else None
