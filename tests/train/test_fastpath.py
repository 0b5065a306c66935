"""Fast-path pieces: the backbone cut is exact, the cache round-trips, LwF holds the ImageNet head."""

from __future__ import annotations

import pytest
import torch

from butterflyer.models import create_model
from butterflyer.train.config import TrainConfig
from butterflyer.train.fastpath import imagenet_agreement, late_stage_plan, lwf_loss
from butterflyer.train.features import cache_key, cut_backbone, load_cached, pick_threads, save_cached
from butterflyer.train.late_stage import LateStageData, Maps, fit_late_stages, reference_logits


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return create_model("efficientnet_lite0", 4, pretrained=True).eval()


@pytest.mark.parametrize("blocks", [0, 1])
def test_cut_reproduces_backbone(lite0: torch.nn.Module, blocks: int) -> None:
    cut = cut_backbone(lite0, blocks)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(cut.suffix(cut.prefix(x)), lite0.backbone(x), atol=1e-4)
    assert cut.trainable_suffix
    expected = 320 if blocks == 0 else 192
    with torch.no_grad():
        assert cut.prefix(x).shape[1] == expected


def test_tiny_falls_back_to_head_only() -> None:
    cut = cut_backbone(create_model("tiny", 3), 2)
    assert not cut.trainable_suffix


def test_cache_round_trip_and_key() -> None:
    maps, ys = torch.randn(3, 4, 2, 2).half(), torch.tensor([0, 1, 2])
    key = cache_key(model="m", data="sha", split="train")
    assert key != cache_key(model="m", data="sha", split="val")
    assert load_cached(key) is None
    save_cached(key, maps, ys)
    got = load_cached(key)
    assert got is not None and torch.equal(got[0], maps) and torch.equal(got[1], ys)


def test_lwf_is_zero_for_equal_logits_and_positive_otherwise() -> None:
    a = torch.randn(5, 10)
    assert lwf_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    assert lwf_loss(a, a.flip(1)).item() > 0.01


def _finetune(lwf: float, maps: torch.Tensor, ys: torch.Tensor) -> float:
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", 4, pretrained=True)
    cut = cut_backbone(model, 0)
    with torch.no_grad():
        ref = cut.suffix.eval()(maps.float())
    cfg = TrainConfig(
        input="x",
        model="efficientnet_lite0",
        lr=3e-3,
        batch_size=16,
        fast_finetune_epochs=3,
        lwf_weight=lwf,
        backbone_lr_mult=1.0,
        warmup_epochs=0.0,
    )
    train = Maps(maps, ys)
    targets = reference_logits(model, cut.suffix, train, species=False, imagenet=lwf > 0)
    data = LateStageData(train, train, targets)  # val = train: the last epoch is the best
    plan = late_stage_plan(cfg.model_copy(update={"fast_finetune_head_lr_mult": 1.0}))
    stats = fit_late_stages(model, cut.suffix, data, plan)
    assert stats.epochs == 3
    with torch.no_grad():
        new = cut.suffix(maps.float())
    assert not torch.allclose(new, ref)  # the suffix did train
    return imagenet_agreement(model, new, ref)


def test_finetune_with_lwf_keeps_imagenet_predictions(lite0: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(48, 3, 128, 128, generator=g) * 2 - 1
    images[:, :, 32:96, 32:96] *= torch.rand(48, 3, 1, 1, generator=g)  # some structure per image
    with torch.no_grad():
        maps = cut_backbone(lite0, 0).prefix(images).half()
    ys = torch.arange(48) % 4
    with_lwf = _finetune(2.0, maps, ys)
    without = _finetune(0.0, maps, ys)
    assert with_lwf >= 0.6
    assert with_lwf >= without + 0.15  # measured: 0.71 against 0.42


def test_pick_threads() -> None:
    assert pick_threads(3) == 3
    assert pick_threads(None) >= 1


def test_map_bank_mirrors_on_the_fly() -> None:
    from butterflyer.train.fastpath import MapBank

    maps = torch.arange(2 * 1 * 2 * 3, dtype=torch.float16).reshape(2, 1, 2, 3)
    bank = MapBank(maps, torch.tensor([4, 7]), mirrored=True)
    assert len(bank) == 4 and bank.labels.tolist() == [4, 7, 4, 7]
    got = bank[torch.tensor([0, 3])]
    assert torch.equal(got[0], maps[0].float())
    assert torch.equal(got[1], maps[1].float().flip(-1))
    assert torch.equal(bank[0:2], maps.float())


def test_jitter_maps_moves_only_the_chosen_share() -> None:
    from butterflyer.train.late_stage import jitter_maps

    g = torch.Generator().manual_seed(0)
    maps = torch.rand(200, 3, 7, 7, generator=g)
    assert torch.equal(jitter_maps(maps, 0.0, g), maps)
    out = jitter_maps(maps, 0.5, g)
    assert out.shape == maps.shape and torch.isfinite(out).all()
    moved = (out - maps).abs().flatten(1).amax(1) > 1e-4
    assert 70 <= int(moved.sum()) <= 130  # about half
    assert out.min() >= maps.min() - 1e-5 and out.max() <= maps.max() + 1e-5  # bilinear: no new extremes
    constant = torch.arange(3.0).reshape(1, 3, 1, 1).expand(16, 3, 7, 7).contiguous()
    assert torch.allclose(jitter_maps(constant, 1.0, g), constant)  # spatial only: channels never mix
