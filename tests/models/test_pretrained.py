"""The packaged EfficientNet-Lite0 weights load offline and map exactly onto timm's network."""

from __future__ import annotations

import timm
import torch

from butterflyer.models import DualOutput, create_model
from butterflyer.models.pretrained import pretrained_path


def _reference_lite0() -> torch.nn.Module:
    """timm lite0 loaded from the packaged .pth by tensor position, independently of the package code."""
    net = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(pretrained_path("efficientnet_lite0"), map_location="cpu", weights_only=True)
    target_keys = list(net.state_dict())
    assert len(source) == len(target_keys)
    net.load_state_dict(dict(zip(target_keys, source.values(), strict=True)))
    return net.eval()


def test_lite0_imagenet_logits_match_reference_mapping() -> None:
    model = create_model("efficientnet_lite0", 10, pretrained=True).eval()
    reference = _reference_lite0()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        species, imagenet = model.forward_with_imagenet(x)
        expected = reference(x)
        dual = DualOutput(model)(x)
    assert species.shape == (2, 10) and imagenet.shape == (2, 1000)
    assert torch.allclose(imagenet, expected, atol=1e-4)
    assert torch.allclose(dual[1], expected, atol=1e-4)
    assert not model.imagenet_head.weight.requires_grad


def test_without_pretrained_there_is_no_imagenet_head() -> None:
    assert create_model("efficientnet_lite0", 3, pretrained=False).imagenet_head is None
