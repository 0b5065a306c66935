"""Training from real records (the data stage's TFRecord format), CPU and the GPU-path pipeline on CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from butterflyer.models import data_config_for
from butterflyer.train.config import TrainConfig
from butterflyer.train.data import open_split, read_labels, split_size
from butterflyer.train.distributed import DistContext
from butterflyer.train.gpu_data import gpu_batches
from butterflyer.train.trainer import train

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from synthetic_records import make_records  # noqa: E402


@pytest.fixture
def records(tmp_path: Path) -> str:
    return make_records(str(tmp_path / "records"), images=48, classes=4, size=40, shards=2)


def test_records_wiring(records: str) -> None:
    assert read_labels(records) == [f"CLASS {i:03d}" for i in range(4)]
    assert split_size(records, "train") == 48
    items = list(open_split(records, "train", None, shuffle=True, seed=1))
    assert len(items) == 48 and items[0][0].dtype == torch.uint8 and items[0][2] == -1


def test_full_profile_trains_from_records(records: str, tmp_path: Path) -> None:
    cfg = TrainConfig(
        input=records,
        output=str(tmp_path / "run"),
        model="tiny",
        profile="full",
        epochs=2,
        batch_size=16,
        augment="trivial",
        tracker="none",
    )
    result = train(cfg)
    assert result.history[-1]["train_n"] == 48
    assert "test_top1" in result.metrics and result.model_dir.is_dir()


def test_gpu_path_pipeline_runs_on_cpu(records: str) -> None:
    make = gpu_batches(
        records, "train", data_config_for("tiny"), 16, DistContext(), train=True, seed=0, force=True
    )
    assert make is not None
    batches = list(make(0))
    assert sum(len(y) for _, y, _ in batches) == 48
    assert batches[0][0].shape == (16, 3, 32, 32) and batches[0][0].dtype == torch.float32
    assert gpu_batches(records, "train", data_config_for("tiny"), 16, DistContext(), True, 0) is None


def test_gpu_path_with_workers_matches_in_process_feed(records: str) -> None:
    """Two DataLoader workers hand packed batches over: same examples, same labels, deterministic."""
    dc = data_config_for("tiny")

    def epoch(workers: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        make = gpu_batches(records, "train", dc, 16, DistContext(), True, 0, workers=workers, force=True)
        assert make is not None
        return list(make(1))

    a, b, c = epoch(2), epoch(2), epoch(0)
    assert all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert sum(len(y) for _, y, _ in a) == 48
    labels = [sorted(torch.cat([y for _, y, _ in run]).tolist()) for run in (a, c)]
    assert labels[0] == labels[1]
