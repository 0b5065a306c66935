"""Models by name, from one factory.

``@register_architecture(name, data_config)`` adds an architecture;
``create_model(name, num_classes, pretrained, weights)`` is the only way to build
one. Each entry carries the preprocessing it expects (:class:`DataConfig`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import timm
import torch
import torchvision
from torch import nn

from butterflyer.errors import ModelError
from butterflyer.models.classifier import ButterflyClassifier
from butterflyer.models.meta import DataConfig
from butterflyer.models.pretrained import load_packaged_state_dict

log = logging.getLogger(__name__)

LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Builder = Callable[[int, bool], ButterflyClassifier]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Builder
    data_config: DataConfig
    has_pretrained: bool


_ARCHITECTURES: dict[str, ModelSpec] = {}


def register_architecture(name: str, data_config: DataConfig, has_pretrained: bool = False
                          ) -> Callable[[Builder], Builder]:
    """Decorator: add ``builder(num_classes, pretrained)`` to the factory under ``name``."""

    def wrap(builder: Builder) -> Builder:
        _ARCHITECTURES[name] = ModelSpec(name, builder, data_config, has_pretrained)
        return builder

    return wrap


def list_architectures() -> list[str]:
    """Registered architecture names."""
    return sorted(_ARCHITECTURES)


def get_spec(name: str) -> ModelSpec:
    """The factory entry for ``name``, or a clear error listing the choices."""
    if name not in _ARCHITECTURES:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(list_architectures())}")
    return _ARCHITECTURES[name]


def data_config_for(name: str) -> DataConfig:
    """The preprocessing ``name`` expects."""
    return get_spec(name).data_config.model_copy()


def create_model(name: str, num_classes: int, pretrained: bool = True,
                 weights: str | None = None) -> ButterflyClassifier:
    """Build ``name`` with a fresh ``num_classes`` head.

    ``pretrained`` loads packaged ImageNet weights where they exist. ``weights``
    (a local path or fsspec URI to a ``.safetensors`` or ``.pth`` backbone state
    dict, e.g. torchvision's VGG16 file) is loaded on top, never unpickled.
    """
    if num_classes < 1:
        raise ModelError(f"num_classes must be at least 1, got {num_classes}")
    spec = get_spec(name)
    model = spec.builder(num_classes, pretrained and spec.has_pretrained)
    if weights:
        _load_backbone_weights(model, weights)
    elif pretrained and not spec.has_pretrained and name != "tiny":
        log.warning("NO PRETRAINED WEIGHTS for %s: starting from random initialisation. "
                    "Pass --weights PATH to start from a checkpoint you have.", name)
    return model


def _read_state_dict(uri: str) -> dict[str, torch.Tensor]:
    import fsspec

    with fsspec.open(uri, "rb") as fh:
        payload = fh.read()
    if uri.endswith(".safetensors"):
        from safetensors.torch import load as load_safetensors

        return load_safetensors(payload)
    import io

    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ModelError(f"{uri} does not hold a state dict")
    return state.get("state_dict", state)


def _load_backbone_weights(model: ButterflyClassifier, uri: str) -> None:
    """Load a torchvision/timm-style state dict into the backbone (and ImageNet head)."""
    try:
        state = _read_state_dict(uri)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelError(f"cannot read weights from {uri}: {exc}") from exc
    loader = getattr(model, "load_source_state_dict", None)
    if loader is not None:
        loader(state)
        return
    missing, unexpected = model.backbone.load_state_dict(state, strict=False)
    if len(missing) == len(model.backbone.state_dict()):
        raise ModelError(f"none of the tensors in {uri} match {type(model.backbone).__name__}")
    log.info("loaded %s (missing %d, unexpected %d keys)", uri, len(missing), len(unexpected))


def _efficientnet_lite(arch: str, num_classes: int, pretrained: bool) -> ButterflyClassifier:
    net: Any = timm.create_model(arch, pretrained=False)  # timm's EfficientNet (untyped attributes)
    imagenet_head: nn.Linear | None = None
    if pretrained:
        net.load_state_dict(load_packaged_state_dict(arch, net))
        imagenet_head = net.classifier
    num_features = net.num_features
    net.reset_classifier(0)
    return ButterflyClassifier(net, num_features, num_classes, imagenet_head=imagenet_head, dropout=0.2)


@register_architecture(
    "efficientnet_lite0",
    DataConfig(input_size=224, resize_size=256, mean=LITE_MEAN, std=LITE_STD, interpolation="bicubic"),
    has_pretrained=True)
def efficientnet_lite0(num_classes: int, pretrained: bool) -> ButterflyClassifier:
    return _efficientnet_lite("efficientnet_lite0", num_classes, pretrained)


@register_architecture(
    "efficientnet_lite1",
    DataConfig(input_size=240, resize_size=274, mean=LITE_MEAN, std=LITE_STD, interpolation="bicubic"),
    has_pretrained=True)
def efficientnet_lite1(num_classes: int, pretrained: bool) -> ButterflyClassifier:
    return _efficientnet_lite("efficientnet_lite1", num_classes, pretrained)


@register_architecture(
    "efficientnet_lite2",
    DataConfig(input_size=260, resize_size=297, mean=LITE_MEAN, std=LITE_STD, interpolation="bicubic"),
    has_pretrained=True)
def efficientnet_lite2(num_classes: int, pretrained: bool) -> ButterflyClassifier:
    return _efficientnet_lite("efficientnet_lite2", num_classes, pretrained)


class _VGGBackbone(nn.Module):
    """torchvision VGG16 up to the second 4096-d fully connected layer."""

    def __init__(self, vgg: torchvision.models.VGG) -> None:
        super().__init__()
        self.features = vgg.features
        self.avgpool = vgg.avgpool
        self.classifier = nn.Sequential(*list(vgg.classifier.children())[:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class _VGGClassifier(ButterflyClassifier):
    def load_source_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load torchvision's ``vgg16`` state dict; its last layer becomes the ImageNet head."""
        last_w, last_b = state.get("classifier.6.weight"), state.get("classifier.6.bias")
        body = {k: v for k, v in state.items() if not k.startswith("classifier.6.")}
        missing, _ = self.backbone.load_state_dict(body, strict=False)
        if missing:
            raise ModelError(f"VGG16 weights are missing {len(missing)} tensors, e.g. {missing[:3]}")
        if last_w is not None and last_b is not None and last_w.shape[0] == 1000:
            head = nn.Linear(last_w.shape[1], 1000)
            head.load_state_dict({"weight": last_w, "bias": last_b})
            head.requires_grad_(False)
            self.imagenet_head = head


@register_architecture("vgg16", DataConfig(input_size=224, resize_size=256, mean=IMAGENET_MEAN,
                                           std=IMAGENET_STD, interpolation="bilinear"))
def vgg16(num_classes: int, pretrained: bool) -> ButterflyClassifier:
    backbone = _VGGBackbone(torchvision.models.vgg16(weights=None))
    return _VGGClassifier(backbone, 4096, num_classes, dropout=0.5)


class _TinyBackbone(nn.Module):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width * 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width * 2),
            nn.ReLU(),
            nn.Conv2d(width * 2, width * 2, 3, padding=1, groups=width * 2, bias=False),
            nn.BatchNorm2d(width * 2), nn.ReLU(),
            nn.Conv2d(width * 2, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@register_architecture("tiny", DataConfig(input_size=32, resize_size=36, mean=(0.5, 0.5, 0.5),
                                          std=(0.5, 0.5, 0.5)))
def tiny(num_classes: int, pretrained: bool) -> ButterflyClassifier:
    """A few-thousand-parameter network for tests."""
    return ButterflyClassifier(_TinyBackbone(16), 64, num_classes, dropout=0.0)
