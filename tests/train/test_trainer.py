"""End-to-end training of the tiny model on a tiny synthetic task (both profiles)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from butterflyer.errors import ConfigError, DataError
from butterflyer.models import load_model
from butterflyer.train.config import TrainConfig
from butterflyer.train.trainer import train

from .conftest import LABELS


def _cfg(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = dict(
        input=str(data),
        output=str(out),
        model="tiny",
        profile="full",
        epochs=8,
        head_epochs=1,
        batch_size=8,
        lr=3e-3,
        augment="none",
        tracker="none",
        patience=4,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_full_profile_learns_and_saves_everything(image_folder: Path, tmp_path: Path) -> None:
    result = train(_cfg(image_folder, tmp_path / "run"))
    assert result.metrics["test_top1"] >= 0.9
    assert result.metrics["val_top1"] >= 0.9
    model, meta = load_model(result.model_dir)
    assert meta.labels == LABELS and meta.architecture == "tiny"
    assert meta.metrics["test_top1"] == pytest.approx(result.metrics["test_top1"])
    assert meta.temperature > 0 and meta.data_manifest_sha256 and meta.config["model"] == "tiny"
    assert len(meta.extra["history"]) == len(result.history) >= 2
    for record in result.history:  # each training example exactly once per epoch
        assert record["seen_min"] == record["seen_max"] == 1.0
    run = result.model_dir.parent
    assert json.loads((run / "config.json").read_text())["profile"] == "full"
    assert (run / "checkpoints" / "last.pt").is_file() and (
        run / "checkpoints" / "best.safetensors"
    ).is_file()
    for name in (
        "report.md",
        "metrics.json",
        "confusion_matrix.png",
        "reliability.png",
        "training_curves.png",
    ):
        assert (run / "report-test" / name).is_file()
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 3)


def test_cpu_fast_profile_learns(image_folder: Path, tmp_path: Path) -> None:
    cfg = _cfg(image_folder, tmp_path / "fast", profile="cpu-fast", lr=0.05, fast_head_epochs=60)
    result = train(cfg)
    assert result.metrics["test_top1"] >= 0.9
    assert "time_features_s" in result.metrics
    again = train(cfg.model_copy(update={"output": str(tmp_path / "fast2")}))  # feature cache hit
    assert again.metrics["test_top1"] == pytest.approx(result.metrics["test_top1"])


def test_bad_inputs_fail_with_clear_errors(image_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--input"):
        train(TrainConfig(model="tiny"))
    with pytest.raises(DataError, match="records"):
        train(_cfg(tmp_path / "nowhere", tmp_path / "r"))
    with pytest.raises(ConfigError, match="CUDA|GPU"):
        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
        train(_cfg(image_folder, tmp_path / "g", gpu=1))
    with pytest.raises(ConfigError):
        TrainConfig(model="tiny", input="x", lr=-1)


def test_existing_run_needs_resume(image_folder: Path, tmp_path: Path) -> None:
    cfg = _cfg(image_folder, tmp_path / "run", epochs=2)
    train(cfg)
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg)
    done = train(cfg.model_copy(update={"resume": True}))  # nothing left to do: reloads and finishes
    assert len(done.history) == 2


@pytest.mark.slow
def test_full_profile_on_pretrained_lite0_keeps_imagenet_head(image_folder: Path, tmp_path: Path) -> None:
    """Two-stage fine-tune with the learning-without-forgetting term (a few steps only)."""
    from butterflyer.models import create_model

    cfg = _cfg(
        image_folder,
        tmp_path / "lite",
        model="efficientnet_lite0",
        epochs=2,
        head_epochs=1,
        max_steps=2,
        patience=0,
        lwf_weight=1.0,
    )
    result = train(cfg)
    model, meta = load_model(result.model_dir)
    assert meta.has_imagenet_head and meta.pretrained and meta.pretrained.startswith("imagenet")
    assert [h["stage"] for h in result.history] == [1.0, 2.0]
    reference = create_model("efficientnet_lite0", 3, pretrained=True)
    assert torch.equal(model.imagenet_head.weight, reference.imagenet_head.weight)  # frozen head itself
    assert not torch.equal(
        model.backbone.conv_head.weight, reference.backbone.conv_head.weight
    )  # stage 2 ran


def test_best_profile_fills_only_what_the_user_left_unset(tmp_path: Path) -> None:
    from butterflyer.train.config import BEST_CPU

    best = TrainConfig(input="x", output=str(tmp_path), profile="best").resolved()
    assert best.profile == "cpu-fast"  # on CPU the best schedule is the fast path's longest
    assert best.fast_finetune_blocks == BEST_CPU["fast_finetune_blocks"] > 1
    assert best.fast_finetune_epochs == BEST_CPU["fast_finetune_epochs"] > 0
    assert best.lwf_weight == BEST_CPU["lwf_weight"] > TrainConfig().lwf_weight  # keeps the int8 gate honest
    assert isinstance(best.fast_finetune_blocks, int)
    mine = TrainConfig(input="x", output=str(tmp_path), profile="best", fast_finetune_epochs=2).resolved()
    assert mine.fast_finetune_epochs == 2 and mine.fast_finetune_blocks == BEST_CPU["fast_finetune_blocks"]
    plain = TrainConfig(input="x", output=str(tmp_path)).resolved()
    assert plain.profile == "cpu-fast" and plain.fast_finetune_epochs == 0  # the main job: head only


def test_a_missing_split_is_skipped_but_a_broken_manifest_is_an_error(
    image_folder: Path, tmp_path: Path
) -> None:
    from butterflyer.train.data import has_split

    assert has_split(str(image_folder), "train") and not has_split(str(image_folder), "holdout")
    broken = tmp_path / "records"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ not json")
    with pytest.raises(DataError):
        has_split(str(broken), "test")  # a broken store must not read as "no test split"
