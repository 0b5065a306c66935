"""One loaded model: an ONNX Runtime session plus the ``meta.json`` that explains it.

:func:`load_served_model` turns a model URI into a :class:`ServedModel`, whose
:meth:`ServedModel.run` returns temperature-calibrated species probabilities and,
when the export carries them, the ImageNet head's probabilities and the pooled
features (what the not-a-butterfly gate reads).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from butterflyer.errors import ModelError
from butterflyer.models.meta import FEATURES, ModelMeta
from butterflyer.serve.onnx_cache import local_model_folder, onnx_for


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64 for stability."""
    z = logits.astype(np.float64) / max(float(temperature), 1e-6)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class Outputs:
    """A batch's ``species (N, C)`` and ``imagenet (N, 1000)`` probabilities and ``features (N, D)``."""

    species: np.ndarray
    imagenet: np.ndarray | None
    features: np.ndarray | None = None


@dataclass
class ServedModel:
    """An ONNX session with its metadata; safe to call from several threads at once."""

    uri: str
    folder: Path
    onnx_path: Path
    meta: ModelMeta
    session: ort.InferenceSession
    input_name: str
    output_names: list[str]
    fixed_batch: int | None
    threads: int = 1
    registry_version: int | None = None  # the registry's version number when served from models:/
    _torch: Any = field(default=None, repr=False)
    _torch_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return str(self.meta.extra.get("name") or self.meta.architecture)

    @property
    def version(self) -> str:
        """The registry version (e.g. ``2`` for the champion v2), else the folder's own version."""
        return str(self.registry_version) if self.registry_version is not None else str(self.meta.version)

    @property
    def has_gate(self) -> bool:
        return "imagenet_logits" in self.output_names or FEATURES in self.output_names

    @property
    def identity(self) -> tuple[str, str, str]:
        """What changes when another model is promoted: folder, ONNX file and version."""
        return str(self.folder), str(self.onnx_path), self.version

    def run_raw(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Every selected output of the ONNX graph by name, for a float32 NCHW batch."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.fixed_batch is not None and batch.shape[0] != self.fixed_batch:
            parts = [self.run_raw(batch[i:i + 1]) for i in range(batch.shape[0])]
            return {name: np.concatenate([p[name] for p in parts]) for name in self.output_names}
        results = self.session.run(self.output_names, {self.input_name: batch})
        return dict(zip(self.output_names, results, strict=True))

    def run(self, batch: np.ndarray) -> Outputs:
        """Calibrated species probabilities (stored temperature), ImageNet probabilities and features."""
        out = self.run_raw(batch)
        logits, inet = out[self.output_names[0]], out.get("imagenet_logits")
        if logits.shape[-1] != self.meta.num_classes:
            raise ModelError(f"{self.onnx_path} gives {logits.shape[-1]} scores but meta.json lists "
                             f"{self.meta.num_classes} labels; re-export the model")
        return Outputs(softmax(logits, self.meta.temperature), None if inet is None else softmax(inet),
                       out.get(FEATURES))

    def torch_model(self) -> Any | None:
        """The PyTorch network (for Grad-CAM) when the folder keeps ``model.safetensors``, else ``None``."""
        with self._torch_lock:
            if self._torch is None:
                from butterflyer.models.meta import WEIGHTS_FILE

                if not (self.folder / WEIGHTS_FILE).is_file():
                    self._torch = False
                else:
                    import torch

                    from butterflyer.models import load_model

                    # torch's own pool oversubscribes a busy CPU badly (10x slower measured on 2 shared
                    # cores); heatmaps use as many threads as ONNX Runtime does
                    torch.set_num_threads(max(1, self.threads))
                    try:
                        self._torch = load_model(self.folder)[0]
                    except ModelError:
                        self._torch = False
            return self._torch or None


def session_options(threads: int) -> ort.SessionOptions:
    """ORT options: ``threads`` intra-op threads (0 lets ORT pick), one inter-op thread."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = max(0, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return opts


def load_served_model(uri: str, threads: int = 0) -> ServedModel:
    """Resolve ``uri``, find or export its ONNX file and open a CPU inference session."""
    folder = local_model_folder(uri)
    meta = ModelMeta.load(folder)
    onnx_path = onnx_for(folder)
    try:
        session = ort.InferenceSession(str(onnx_path), session_options(threads),
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own untyped errors for bad files
        raise ModelError(f"ONNX Runtime cannot open {onnx_path}: {exc}; re-export the model") from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{onnx_path} has {len(inputs)} inputs; expected one image input")
    names = [o.name for o in session.get_outputs()]
    outputs = ["logits"] if "logits" in names else names[:1]
    if meta.has_imagenet_head and "imagenet_logits" in names:
        outputs.append("imagenet_logits")
    if FEATURES in names:
        outputs.append(FEATURES)
    dim0 = inputs[0].shape[0] if inputs[0].shape else None
    fixed = dim0 if isinstance(dim0, int) and dim0 > 0 else None
    return ServedModel(uri=uri, folder=folder, onnx_path=onnx_path, meta=meta, session=session,
                       input_name=inputs[0].name, output_names=outputs, fixed_batch=fixed,
                       threads=threads, registry_version=_registry_version(uri))


def _registry_version(uri: str) -> int | None:
    """The version number ``models:/NAME@ALIAS`` (or ``/N``, ``/latest``) points at; None for folders."""
    if not uri.startswith("models:/"):
        return None
    from butterflyer.registry.resolve import registry_version

    return registry_version(uri)
