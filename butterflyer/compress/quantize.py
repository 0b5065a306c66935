"""Static int8 post-training quantization with ONNX Runtime (QDQ, per-channel).

``quantize_int8(onnx_dir, calibration, out_dir)`` reads the fp32 ``model.onnx`` of a
model folder, runs calibration images through it to fix activation ranges, and
writes an int8 QDQ graph plus ``meta.json`` (``stage="int8"``) to ``out_dir``.
Weights are int8 per output channel (symmetric), activations uint8 per tensor:
the pairing ONNX Runtime's x86 kernels (AVX2/AVX-512 VNNI) run fastest. Static
quantization is used because dynamic quantization re-measures activations on
every call, which costs more than it saves in a CNN.

``calibration`` is either an iterable of float32 arrays (one ``CHW`` image or an
``NCHW`` batch each, already normalised like the model's input) or a records
URI, whose validation split is read and preprocessed with the model's own data
config.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from butterflyer.compress.export import INPUT_NAME
from butterflyer.errors import CompressionError, ModelError
from butterflyer.models import ModelMeta
from butterflyer.models.meta import ONNX_FILE

DEFAULT_CALIBRATION_IMAGES = 300
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def _batches(calibration: Iterable[np.ndarray], input_size: int, limit: int,
             batch_size: int = 16) -> Iterator[np.ndarray]:
    """Regroup arrays into NCHW float32 batches of at most ``limit`` images in total."""
    pending: list[np.ndarray] = []
    seen = 0
    for item in calibration:
        arr = np.asarray(item, dtype=np.float32)
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[2:] != (input_size, input_size):
            raise CompressionError(f"calibration arrays must be (N,)3x{input_size}x{input_size} float32, "
                                   f"got shape {arr.shape}; preprocess them with the model's data config")
        for image in arr:
            if seen >= limit:
                break
            pending.append(image)
            seen += 1
            if len(pending) == batch_size:
                yield np.stack(pending)
                pending = []
        if seen >= limit:
            break
    if pending:
        yield np.stack(pending)


class _Reader:
    """ONNX Runtime ``CalibrationDataReader`` over a list of batches."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self._iter = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._iter, None)
        return None if batch is None else {INPUT_NAME: batch}

    def rewind(self) -> None:  # pragma: no cover - only some calibrators call it
        pass


def calibration_from_records(records_uri: str, meta: ModelMeta, split: str = "valid",
                             limit: int = DEFAULT_CALIBRATION_IMAGES) -> Iterator[np.ndarray]:
    """Preprocessed images of ``split`` from a records URI, ready for calibration."""
    from butterflyer.compress.data import load_split_arrays

    images, _ = load_split_arrays(records_uri, split, meta.data_config, meta.labels, limit=limit)
    yield from images


def quantize_int8(onnx_dir: str | Path, calibration: Iterable[np.ndarray] | str, out_dir: str | Path,
                  max_images: int = DEFAULT_CALIBRATION_IMAGES, method: str = "minmax") -> Path:
    """Quantize ``onnx_dir/model.onnx`` to a static int8 QDQ model in ``out_dir``; return ``out_dir``."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    onnx_dir, out = Path(onnx_dir), Path(out_dir)
    source = onnx_dir / ONNX_FILE
    if not source.is_file():
        raise ModelError(f"{onnx_dir} has no {ONNX_FILE}; export it first with export_onnx()")
    if method not in CALIBRATION_METHODS:
        raise CompressionError(f"unknown calibration method {method!r}; use one of {CALIBRATION_METHODS}")
    if out.resolve() == onnx_dir.resolve():
        raise CompressionError("write the int8 model to a different folder than its fp32 source")
    meta = ModelMeta.load(onnx_dir)
    if isinstance(calibration, str):
        calibration = calibration_from_records(calibration, meta, limit=max_images)
    batches = list(_batches(calibration, meta.data_config.input_size, max_images))
    if not batches:
        raise CompressionError("no calibration images: pass a few hundred validation images")
    n_images = sum(len(b) for b in batches)
    out.mkdir(parents=True, exist_ok=True)
    calibrate = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
                 "entropy": CalibrationMethod.Entropy}[method]
    with tempfile.TemporaryDirectory(prefix="quant-", dir=out) as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # shape inference + graph fusions first, as ONNX Runtime recommends before quantizing
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=False)
        quantized = Path(tmp) / ONNX_FILE
        quantize_static(str(prepared), str(quantized), _Reader(batches), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=calibrate,
                        extra_options={"CalibTensorRangeSymmetric": False, "WeightSymmetric": True})
        shutil.move(str(quantized), out / ONNX_FILE)  # same filesystem: an atomic rename
    extra = dict(meta.extra)
    extra.update(onnx_precision="int8", quantization={
        "format": "QDQ", "weights": "int8 symmetric per-channel", "activations": "uint8 per-tensor",
        "calibration_method": method, "calibration_images": n_images, "source": str(onnx_dir)})
    meta.model_copy(update={"stage": "int8", "extra": extra}).save(out)
    return out
