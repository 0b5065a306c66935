"""Registry fixtures: tiny model folders with chosen metrics (MLflow store: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from butterflyer.models import ModelMeta, create_model, save_model


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., Path]:
    """Save a tiny model folder with the given metrics; each call gets different weights."""
    counter = {"n": 0}

    def make(top1: float | None = 0.8, data_sha: str | None = "sha-a", latency: float | None = 5.0,
             stage: str = "trained") -> Path:
        import torch

        counter["n"] += 1
        torch.manual_seed(counter["n"])
        model = create_model("tiny", 3, pretrained=False)
        metrics: dict[str, float] = {}
        if top1 is not None:
            metrics["test_top1"] = top1
        if latency is not None:
            metrics["latency_ms_p50"] = latency
        meta = ModelMeta(architecture="tiny", labels=["a", "b", "c"], metrics=metrics, stage=stage,
                         data_manifest_sha256=data_sha, git_commit="abc123", config={"epochs": 1, "lr": 0.1})
        return save_model(model, tmp_path / f"model{counter['n']}", meta)

    return make
