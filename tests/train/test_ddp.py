"""Two CPU processes (torchrun, gloo): every example once per epoch, and a model comes out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from butterflyer.models import load_model
from butterflyer.train.config import TrainConfig
from butterflyer.train.data import epoch_order, shard
from butterflyer.train.trainer import train

from .conftest import make_image_folder


def test_shards_partition_every_epoch() -> None:
    for epoch in range(3):
        order = epoch_order(101, seed=5, epoch=epoch, shuffle=True)
        parts = [shard(order, r, 3) for r in range(3)]
        assert sorted(i for p in parts for i in p) == list(range(101))
    assert epoch_order(50, 1, 0, True) != epoch_order(50, 1, 1, True)


@pytest.mark.slow
def test_two_process_ddp_sees_every_example_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # 25 per class x 3 = 75 train examples: odd, so the ranks get uneven shares (37 and 38)
    data = make_image_folder(tmp_path / "data", {"train": 25, "val": 6, "test": 6})
    cfg = TrainConfig(
        input=str(data),
        output=str(tmp_path / "ddp"),
        model="tiny",
        profile="full",
        epochs=3,
        head_epochs=1,
        batch_size=8,
        lr=3e-3,
        augment="none",
        tracker="none",
        nproc=2,
        patience=0,
    )
    result = train(cfg)
    assert len(result.history) == 3
    for record in result.history:
        assert record["train_n"] == 75
        assert record["seen_min"] == record["seen_max"] == 1.0
        assert record["val_n"] == 18
    model, meta = load_model(result.model_dir)
    assert meta.num_classes == 3 and meta.config["nproc"] == 2
    assert "test_top1" in result.metrics
    assert os.path.isfile(result.model_dir.parent / "logs" / "torchrun.log")
