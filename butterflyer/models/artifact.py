"""Saved models: ``model.safetensors`` + ``meta.json`` in one folder.

Loading never unpickles: weights come from safetensors and the architecture from
the factory by name (:mod:`butterflyer.models.factory`). Pruned models have fewer
channels than the factory builds, so layers are resized in place to the saved tensors'
shapes before the weights go in.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors
from torch import nn

from butterflyer.errors import ModelError
from butterflyer.fileio import atomic_write_bytes
from butterflyer.models.classifier import ButterflyClassifier
from butterflyer.models.factory import create_model
from butterflyer.models.meta import WEIGHTS_FILE, ModelMeta


def save_model(model: ButterflyClassifier, folder: str | Path, meta: ModelMeta) -> Path:
    """Write weights and ``meta.json`` atomically into ``folder`` and return it."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    meta = meta.model_copy(update={"has_imagenet_head": model.imagenet_head is not None})
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = save_safetensors(state, metadata={"architecture": meta.architecture})
    atomic_write_bytes(out / WEIGHTS_FILE, payload)
    meta.save(out)
    return out


def load_model(folder: str | Path, device: str | torch.device = "cpu"
               ) -> tuple[ButterflyClassifier, ModelMeta]:
    """Rebuild the network named in ``meta.json`` and load its safetensors weights (eval mode)."""
    folder = Path(folder)
    meta = ModelMeta.load(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"{folder} has no {WEIGHTS_FILE}; it may be an ONNX-only model "
                         "(serve it with ONNX Runtime)")
    state = load_file(str(weights))
    model = create_model(meta.architecture, meta.num_classes, pretrained=False)
    if "imagenet_head.weight" in state and model.imagenet_head is None:
        w = state["imagenet_head.weight"]
        model.imagenet_head = nn.Linear(w.shape[1], w.shape[0]).requires_grad_(False)
    resize_to_state_dict(model, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"weights in {folder} do not fit {meta.architecture}: {exc}") from exc
    return model.to(device).eval(), meta


def resize_to_state_dict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Resize Conv2d/Linear/BatchNorm layers in place to the saved shapes (pruned models).

    Layers are resized, not replaced, so subclasses keep what they add: timm's
    ``BatchNormAct2d`` keeps its fused activation, frozen layers stay frozen.
    """
    for name, module in list(model.named_modules()):
        key = f"{name}.weight" if name else "weight"
        weight = getattr(module, "weight", None)
        if key not in state or not isinstance(weight, torch.Tensor):
            continue
        shape = tuple(state[key].shape)
        if shape == tuple(weight.shape):
            continue
        if isinstance(module, nn.Conv2d):
            depthwise = module.groups == module.in_channels and module.groups > 1
            out_ch, in_per_group = shape[0], shape[1]
            groups = out_ch if depthwise else module.groups
            module.out_channels, module.in_channels, module.groups = out_ch, in_per_group * groups, groups
        elif isinstance(module, nn.Linear):
            module.out_features, module.in_features = shape
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.num_features = shape[0]
            for buf in ("running_mean", "running_var"):
                if getattr(module, buf, None) is not None:
                    setattr(module, buf, torch.zeros(shape[0], dtype=getattr(module, buf).dtype))
        else:
            raise ModelError(f"cannot resize layer {name} of type {type(module).__name__} to {shape}; "
                             "only Conv2d, Linear and BatchNorm layers can be pruned")
        module.weight = nn.Parameter(torch.empty(shape, dtype=weight.dtype),
                                     requires_grad=weight.requires_grad)
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.Tensor):
            module.bias = nn.Parameter(torch.empty(shape[0], dtype=bias.dtype),
                                       requires_grad=bias.requires_grad)
    if isinstance(model, ButterflyClassifier):
        model.num_features = model.head.in_features
