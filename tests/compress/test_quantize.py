"""Static int8 quantization: stays accurate on a separable task; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from butterflyer.compress.export import export_onnx, onnx_predict, onnx_session
from butterflyer.compress.quantize import quantize_int8
from butterflyer.errors import CompressionError, ModelError
from butterflyer.models import ModelMeta

from .conftest import make_task


def _accuracy(model_dir: Path, images: np.ndarray, labels: np.ndarray) -> float:
    logits = onnx_predict(onnx_session(model_dir, threads=1), images)["logits"]
    return float((logits.argmax(1) == labels).mean())


def test_int8_stays_accurate_on_separable_task(tiny_dir: Path, tmp_path: Path, task) -> None:
    export_onnx(tiny_dir)
    held_out, held_labels = make_task(30, seed=1)
    out = quantize_int8(tiny_dir, [task[0][i:i + 10] for i in range(0, 100, 10)], tmp_path / "int8",
                        max_images=64)
    meta = ModelMeta.load(out)
    assert meta.stage == "int8" and meta.extra["quantization"]["calibration_images"] == 64
    assert meta.extra["onnx_outputs"] == ["logits", "imagenet_logits", "features"]
    graph = (out / "model.onnx").read_bytes()
    assert b"QuantizeLinear" in graph and b"DequantizeLinear" in graph
    fp32 = _accuracy(tiny_dir, held_out, held_labels)
    int8 = _accuracy(out, held_out, held_labels)
    assert fp32 >= 0.9
    assert int8 >= fp32 - 0.03
    outputs = onnx_predict(onnx_session(out), held_out[:3])
    assert outputs["imagenet_logits"].shape == (3, 10)


def test_int8_from_records_uri(tiny_dir: Path, tmp_path: Path, records_uri: str) -> None:
    export_onnx(tiny_dir)
    out = quantize_int8(tiny_dir, records_uri, tmp_path / "int8", max_images=16)
    assert ModelMeta.load(out).extra["quantization"]["calibration_images"] == 16


def test_quantize_errors_are_clear(tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="export it first"):
        quantize_int8(tiny_dir, [np.zeros((1, 3, 32, 32), np.float32)], tmp_path / "q")
    export_onnx(tiny_dir)
    with pytest.raises(CompressionError, match="no calibration images"):
        quantize_int8(tiny_dir, [], tmp_path / "q")
    with pytest.raises(CompressionError, match="3x32x32"):
        quantize_int8(tiny_dir, [np.zeros((2, 3, 16, 16), np.float32)], tmp_path / "q")
    with pytest.raises(CompressionError, match="different folder"):
        quantize_int8(tiny_dir, [np.zeros((1, 3, 32, 32), np.float32)], tiny_dir)
