"""The model factory: names, heads, data configs, errors."""

from __future__ import annotations

import logging

import pytest
import torch

from butterflyer.errors import ModelError
from butterflyer.models import create_model, data_config_for, list_architectures


def test_registered_names() -> None:
    assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "vgg16", "tiny"} <= set(
        list_architectures()
    )


def test_tiny_forward_and_config() -> None:
    model = create_model("tiny", 7)
    dc = data_config_for("tiny")
    assert model(torch.randn(2, 3, dc.input_size, dc.input_size)).shape == (2, 7)
    assert model.imagenet_head is None
    with pytest.raises(RuntimeError, match="ImageNet head"):
        model.forward_with_imagenet(torch.randn(1, 3, 32, 32))


def test_unknown_and_bad_arguments() -> None:
    with pytest.raises(ModelError, match="choose one of"):
        create_model("resnet9000", 3)
    with pytest.raises(ModelError, match="num_classes"):
        create_model("tiny", 0)


def test_data_configs_differ_per_model() -> None:
    assert data_config_for("efficientnet_lite2").input_size == 260
    assert data_config_for("vgg16").mean != data_config_for("efficientnet_lite0").mean


@pytest.mark.slow
def test_vgg16_without_weights_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        model = create_model("vgg16", 5, pretrained=True)
    assert "NO PRETRAINED WEIGHTS" in caplog.text
    assert model.head.out_features == 5 and model.imagenet_head is None
