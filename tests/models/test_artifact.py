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


def test_meta_metrics_are_fractions_and_a_percentage_is_refused():
    import pydantic
    import pytest

    from butterflyer.models import ModelMeta

    meta = ModelMeta(architecture="tiny", labels=["a"], metrics={"test_top1": 0.01, "latency_ms_p50": 12.5})
    assert meta.metrics["test_top1"] == 0.01  # 1 %: kept as is, never guessed to be a percentage
    with pytest.raises(pydantic.ValidationError, match="must be a fraction"):
        ModelMeta(architecture="tiny", labels=["a"], metrics={"test_top1": 87.5})


def test_lineage_tags_keep_a_small_fraction_as_given(tmp_path):
    from butterflyer.models import ModelMeta, create_model, save_model
    from butterflyer.registry.lineage import lineage_tags, metrics_from_tags

    folder = save_model(create_model("tiny", 2, pretrained=False), tmp_path / "m",
                        ModelMeta(architecture="tiny", labels=["a", "b"], metrics={"test_top1": 1.0}))
    assert metrics_from_tags(lineage_tags(folder))["test_top1"] == 1.0  # 100 %, not 1 % scaled
