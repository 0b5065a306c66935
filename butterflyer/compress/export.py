"""Export a saved PyTorch model to ONNX for ONNX Runtime.

``export_onnx(model_dir)`` reads a ``model.safetensors`` + ``meta.json`` folder and
writes ``model.onnx`` next to it (or into ``out_dir``) with one input ``image``
(float32, NCHW, already normalised per the model's data config, dynamic batch)
and the outputs ``logits``, ``imagenet_logits`` (when the model keeps its ImageNet
head) and ``features`` (the pooled vector the not-a-butterfly gate reads). The
copied ``meta.json`` records the output names under ``extra.onnx_outputs`` so
servers never guess them.

The TorchScript-based exporter (``dynamo=False``) is used on purpose: it still
works in torch 2.14, needs no sample-dependent graph capture, and gives a plain
static graph that ONNX Runtime's quantizer handles well.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from butterflyer.errors import ModelError
from butterflyer.fileio import atomic_write_bytes
from butterflyer.models import ButterflyClassifier, ModelMeta, ServingOutputs, load_model
from butterflyer.models.classifier import serving_output_names
from butterflyer.models.meta import ONNX_FILE

OPSET = 17
INPUT_NAME = "image"
LOGITS = "logits"
IMAGENET_LOGITS = "imagenet_logits"


def onnx_output_names(model: ButterflyClassifier) -> list[str]:
    """The output names an export of ``model`` has, in order."""
    return serving_output_names(model)


def model_to_onnx_bytes(model: ButterflyClassifier, input_size: int, opset: int = OPSET) -> bytes:
    """Serialise ``model`` (in eval mode) to ONNX bytes with a dynamic batch axis."""
    if opset < 17:
        raise ModelError(f"opset {opset} is too old; use 17 or newer")
    outputs = onnx_output_names(model)
    wrapper = ServingOutputs(model)
    was_training = model.training
    wrapper.eval()
    dummy = torch.zeros(2, 3, input_size, input_size, dtype=torch.float32)
    axes = {INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in outputs}}
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
            torch.onnx.export(wrapper, (dummy,), buffer,  # type: ignore[arg-type]
                              input_names=[INPUT_NAME], output_names=outputs, dynamic_axes=axes,
                              opset_version=opset, do_constant_folding=True, dynamo=False)
    except Exception as exc:  # the exporter raises many unrelated types
        raise ModelError(f"ONNX export of {type(model.backbone).__name__} failed: {exc}") from exc
    finally:
        model.train(was_training)
    return buffer.getvalue()


def save_onnx_model(model: ButterflyClassifier, meta: ModelMeta, out_dir: str | Path,
                    stage: str | None = None) -> Path:
    """Write ``model.onnx`` and ``meta.json`` for an in-memory model; return ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = model_to_onnx_bytes(model, meta.data_config.input_size)
    atomic_write_bytes(out / ONNX_FILE, data)
    extra = dict(meta.extra)
    extra.update(onnx_outputs=onnx_output_names(model), onnx_input=INPUT_NAME, onnx_opset=OPSET,
                 onnx_precision="fp32")
    new_meta = meta.model_copy(update={"extra": extra, "stage": stage or meta.stage,
                                       "has_imagenet_head": model.imagenet_head is not None})
    new_meta.save(out)
    return out


def export_onnx(model_dir: str | Path, out_dir: str | Path | None = None, stage: str | None = None) -> Path:
    """Export the saved model in ``model_dir`` to ONNX and return the output folder.

    ``out_dir`` defaults to ``model_dir`` itself, so one folder can hold both the
    safetensors and the ONNX file. ``stage`` overrides ``meta.stage`` (kept by default:
    the ONNX graph computes the same function as the weights it came from).
    """
    model_dir = Path(model_dir)
    model, meta = load_model(model_dir)
    return save_onnx_model(model, meta, out_dir or model_dir, stage=stage)


def onnx_session(model_dir: str | Path, threads: int | None = None, spin: bool = True):
    """An ONNX Runtime CPU session for the ``model.onnx`` in ``model_dir``.

    ``spin=False`` stops idle worker threads from busy-waiting between calls: needed when
    PyTorch is timed in the same process, or its threads would be starved of cores.
    """
    import onnxruntime as ort

    path = Path(model_dir) / ONNX_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir} has no {ONNX_FILE}; run 'butterflyer compress export MODEL_DIR' first")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(session, images: np.ndarray) -> dict[str, np.ndarray]:
    """Run ``session`` on a float32 NCHW batch; outputs by name."""
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {INPUT_NAME: np.ascontiguousarray(images, dtype=np.float32)})
    return dict(zip(names, values, strict=True))
