"""Saved models: safetensors + meta.json round trip, clear errors, pruned shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from butterflyer.errors import ModelError
from butterflyer.models import ModelMeta, create_model, data_config_for, load_model, save_model


def test_round_trip_is_exact(tmp_path: Path) -> None:
    model = create_model("tiny", 4).eval()
    meta = ModelMeta(
        architecture="tiny", labels=list("abcd"), data_config=data_config_for("tiny"), temperature=1.7
    )
    folder = save_model(model, tmp_path / "m", meta)
    loaded, meta2 = load_model(folder)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert meta2.temperature == 1.7 and meta2.labels == list("abcd") and not meta2.has_imagenet_head


def test_missing_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="meta.json"):
        load_model(tmp_path)
    ModelMeta(architecture="tiny", labels=["a"]).save(tmp_path)
    with pytest.raises(ModelError, match="model.safetensors"):
        load_model(tmp_path)


def test_pruned_layers_are_resized_on_load(tmp_path: Path) -> None:
    model = create_model("tiny", 2).eval()
    body = model.backbone.body
    body[9] = nn.Conv2d(32, 48, 1, bias=False)  # pretend pruning removed 16 channels
    body[10] = nn.BatchNorm2d(48)
    model.head = nn.Linear(48, 2)
    model.num_features = 48
    model.eval()
    folder = save_model(model, tmp_path / "p", ModelMeta(architecture="tiny", labels=["a", "b"]))
    loaded, _ = load_model(folder)
    assert loaded.head.in_features == 48
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x))
