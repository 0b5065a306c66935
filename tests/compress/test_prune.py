"""Structured pruning: targets, shapes, heads kept consistent, saved artifacts reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from butterflyer.compress.prune import channel_summary, check_target, count_cost, prune_to, schedule
from butterflyer.errors import CompressionError
from butterflyer.models import ModelMeta, create_model, load_model, save_model

from .conftest import tiny_meta


def _tiny_with_imagenet_head():
    torch.manual_seed(0)
    model = create_model("tiny", 3, pretrained=False)
    model.imagenet_head = torch.nn.Linear(model.num_features, 10).requires_grad_(False)
    return model.eval()


@pytest.mark.parametrize("metric,target", [("macs", 0.5), ("params", 0.4)])
def test_prune_tiny_hits_target_and_reloads(tmp_path: Path, metric: str, target: float) -> None:
    model = _tiny_with_imagenet_head()
    base = count_cost(model, 32)
    cost = base
    for goal in schedule(target, 2):
        cost = prune_to(model, 32, goal, base, metric=metric)
    ratio = cost.get(metric) / base.get(metric)
    assert target * 0.75 <= ratio <= target * 1.03
    assert model.head.in_features == model.imagenet_head.in_features == model.num_features < 64
    assert model.head.out_features == 3 and model.imagenet_head.out_features == 10
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits, imagenet = model.forward_with_imagenet(x)
    assert logits.shape == (4, 3) and imagenet.shape == (4, 10)
    loaded, _ = load_model(save_model(model, tmp_path / "pruned", tiny_meta()))
    with torch.no_grad():
        again, again_in = loaded.forward_with_imagenet(x)
    torch.testing.assert_close(again, logits)
    torch.testing.assert_close(again_in, imagenet)
    assert channel_summary(loaded) == channel_summary(model)


@pytest.mark.parametrize("target", [0.0, -0.2, 1.5, 0.005])
def test_too_aggressive_or_invalid_target_is_refused(target: float) -> None:
    with pytest.raises(CompressionError, match="ratio"):
        check_target(target)
    model = _tiny_with_imagenet_head()
    before = channel_summary(model)
    with pytest.raises(CompressionError):
        prune_to(model, 32, target, count_cost(model, 32))
    assert channel_summary(model) == before  # refused before touching the model


def test_schedule_is_geometric_and_ends_at_target() -> None:
    goals = schedule(0.25, 2)
    assert goals == pytest.approx([0.5, 0.25])
    with pytest.raises(CompressionError, match="steps"):
        schedule(0.5, 0)


@pytest.mark.slow
def test_pruned_lite0_reloads_with_fused_activations(tmp_path: Path) -> None:
    """timm's BatchNormAct2d must keep its ReLU6 when a pruned model is reloaded."""
    model = create_model("efficientnet_lite0", 7, pretrained=True).eval()
    base = count_cost(model, 224)
    cost = prune_to(model, 224, 0.7, base)
    assert cost.macs / base.macs <= 0.7 * 1.03
    assert model.imagenet_head.in_features == model.head.in_features < 1280
    meta = ModelMeta(architecture="efficientnet_lite0", labels=list("abcdefg"))
    loaded, _ = load_model(save_model(model, tmp_path / "lite0", meta))
    assert type(loaded.backbone.bn1).__name__ == "BatchNormAct2d"
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        ref, ref_in = model.forward_with_imagenet(x)
        got, got_in = loaded.forward_with_imagenet(x)
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(got_in, ref_in)


@pytest.mark.slow
def test_vgg16_prunes_ten_fold_in_params(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("vgg16", 5, pretrained=False).eval()
    base = count_cost(model, 32)
    cost = prune_to(model, 32, 0.1, base, metric="params")
    assert base.params / cost.params >= 10.0
    meta = ModelMeta(architecture="vgg16", labels=list("abcde"))
    loaded, _ = load_model(save_model(model, tmp_path / "vgg", meta))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
