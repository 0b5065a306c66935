"""ONNX export: names, dynamic batch, metadata and parity with PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from butterflyer.compress.export import export_onnx, onnx_predict, onnx_session
from butterflyer.errors import ModelError
from butterflyer.models import ModelMeta, create_model, load_model, save_model

from .conftest import tiny_meta


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_export_in_place_dual_outputs_and_parity(tiny_dir: Path, task) -> None:
    out = export_onnx(tiny_dir)
    assert out == tiny_dir and (out / "model.onnx").is_file() and (out / "model.safetensors").is_file()
    meta = ModelMeta.load(out)
    assert meta.extra["onnx_outputs"] == ["logits", "imagenet_logits", "features"]
    assert meta.stage == "trained" and meta.labels == tiny_meta().labels
    session = onnx_session(out, threads=1)
    assert [i.name for i in session.get_inputs()] == ["image"]
    model, _ = load_model(tiny_dir)
    images = task[0][:7]
    with torch.no_grad():
        ref_logits, ref_imagenet = model.forward_with_imagenet(torch.from_numpy(images))
        ref_features = model.forward_features(torch.from_numpy(images))
    got = onnx_predict(session, images)
    assert got["features"].shape == (7, model.num_features)  # what the not-a-butterfly gate reads
    assert np.abs(got["features"] - ref_features.numpy()).max() < 1e-4
    assert got["logits"].shape == (7, 3) and got["imagenet_logits"].shape == (7, 10)
    assert np.abs(_softmax(got["logits"]) - _softmax(ref_logits.numpy())).max() < 1e-4
    assert np.abs(_softmax(got["imagenet_logits"]) - _softmax(ref_imagenet.numpy())).max() < 1e-4
    assert onnx_predict(session, images[:1])["logits"].shape == (1, 3)  # dynamic batch


def test_export_without_imagenet_head_to_other_folder(tmp_path: Path) -> None:
    model = create_model("tiny", 3, pretrained=False).eval()
    src = save_model(model, tmp_path / "src", tiny_meta())
    out = export_onnx(src, tmp_path / "onnx", stage="onnx_fp32")
    assert not (out / "model.safetensors").exists()
    meta = ModelMeta.load(out)
    assert meta.extra["onnx_outputs"] == ["logits", "features"] and meta.stage == "onnx_fp32"
    assert ModelMeta.load(src).stage == "trained"


def test_export_of_missing_model_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="meta.json is missing"):
        export_onnx(tmp_path)
    with pytest.raises(ModelError, match="no model.onnx"):
        onnx_session(tmp_path)


@pytest.mark.slow
def test_lite0_onnx_parity(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", 5, pretrained=True).eval()
    meta = ModelMeta(architecture="efficientnet_lite0", labels=list("abcde"))
    src = save_model(model, tmp_path / "lite0", meta)
    session = onnx_session(export_onnx(src), threads=2)
    images = np.random.default_rng(0).normal(0, 1, (3, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ref, ref_in = model.forward_with_imagenet(torch.from_numpy(images))
    got = onnx_predict(session, images)
    assert np.abs(_softmax(got["logits"]) - _softmax(ref.numpy())).max() < 1e-4
    assert np.abs(_softmax(got["imagenet_logits"]) - _softmax(ref_in.numpy())).max() < 1e-4
