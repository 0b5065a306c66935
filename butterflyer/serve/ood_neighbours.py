"""The not-a-butterfly gate read from the served model's own pooled features.

Every export carries a ``features`` output: the pooled vector the species head
reads. :class:`NeighbourGate` keeps those vectors (unit length) for a few training
photos per species and scores a new photo by its ``k``-th highest cosine similarity
to them (a k-nearest-neighbour out-of-distribution score). A photo unlike every
training butterfly and moth has no close neighbours, whatever species the head
would name.

Why not the ImageNet head: a pruned model whose late layers were distilled on
butterflies only still gives species logits as good as the teacher's, but its
ImageNet answers drift (agreement with the teacher 64-68 % on val) and the ImageNet
profile gate then let scikit-image's cat photos through as butterflies. On the same
model the neighbour score (30 photos per species, k=5, threshold = 1 % val quantile
x 0.95) rejected 128 of 130 everyday-photo crops at 0.4 % test false rejections;
on the unpruned teacher it rejected 130 of 130 at 0 %. (Nov 2026, butterflies-100.)

The bank is fitted by ``butterflyer.serve.fit`` on the model it will gate, so an
int8 model is gated with int8 features. It is stored as int8 rows with one scale
each (3,000 x 1,280 for Lite0: 3.9 MB) in ``gate.safetensors`` beside the model,
referenced from ``meta.json`` with its sha256; a freshly fitted, not yet written
gate carries it inline. Scoring a photo costs one small matrix product (0.14 ms
measured, under 2 % of an int8 Lite0 request on one thread).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from butterflyer.errors import ModelError

KIND = "feature_neighbours"
GATE_FILE = "gate.safetensors"
BANK_TENSOR = "bank_int8"
SCALE_TENSOR = "row_scale"
LABEL_TENSOR = "row_label"  # the label index of each row (the open-set rule reads it); absent in older files
DEFAULT_NEIGHBOURS = 5


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows of ``features`` scaled to unit length (float32, 2-D)."""
    x = np.atleast_2d(np.asarray(features, dtype=np.float32))
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def quantize_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row (a quarter of float32's bytes; cosine similarities move by ~1e-3)."""
    scale = np.maximum(np.abs(rows).max(axis=1), 1e-12).astype(np.float32) / 127.0
    return np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8), scale


def dequantize_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return unit_rows(q.astype(np.float32) * scale[:, None])


@dataclass(frozen=True)
class NeighbourGate:
    """Unit-length features of known photos ``(M, D)``, the neighbour rank ``k`` and the bar."""

    bank: np.ndarray
    threshold: float
    k: int = DEFAULT_NEIGHBOURS
    labels: np.ndarray | None = None

    @classmethod
    def fit(cls, features: np.ndarray, threshold: float = 0.0, k: int = DEFAULT_NEIGHBOURS,
            labels: np.ndarray | None = None) -> NeighbourGate:
        """A gate whose bank is ``features`` (with each row's label index), rounded as it is stored."""
        rows = unit_rows(features)
        if len(rows) == 0:
            raise ModelError("the neighbour gate needs at least one training photo")
        if labels is not None and len(labels) != len(rows):
            raise ModelError(f"{len(rows)} bank rows but {len(labels)} labels")
        stored = None if labels is None else np.asarray(labels, dtype=np.int16)
        return cls(dequantize_rows(*quantize_rows(rows)), float(threshold), int(k), stored)

    def with_threshold(self, threshold: float) -> NeighbourGate:
        return NeighbourGate(self.bank, float(threshold), self.k, self.labels)

    def cosines(self, features: np.ndarray) -> np.ndarray:
        """Cosine similarity of each row of ``features`` to every bank row ``(N, M)``."""
        x = unit_rows(features)
        if x.shape[1] != self.bank.shape[1]:
            raise ModelError(f"the model gives {x.shape[1]} features but the gate's bank holds "
                             f"{self.bank.shape[1]}; re-run 'butterflyer fit-serving' for this model")
        return x @ self.bank.T

    def kth(self, cosines: np.ndarray) -> np.ndarray:
        """The ``k``-th highest of each row of :meth:`cosines`: the gate's score."""
        k = min(self.k, len(self.bank))
        return np.partition(np.atleast_2d(cosines), -k, axis=1)[:, -k].astype(np.float64)

    def similarity(self, features: np.ndarray) -> np.ndarray:
        """The ``k``-th highest cosine similarity to the bank, per row of ``features``."""
        return self.kth(self.cosines(features))

    # -- storage ------------------------------------------------------------------------------------

    def bank_bytes(self) -> bytes:
        """The bank as a safetensors file (int8 rows and their float32 scales)."""
        from safetensors.numpy import save

        q, scale = quantize_rows(self.bank)
        tensors = {BANK_TENSOR: np.ascontiguousarray(q), SCALE_TENSOR: np.ascontiguousarray(scale)}
        if self.labels is not None:
            tensors[LABEL_TENSOR] = np.ascontiguousarray(self.labels.astype(np.int16))
        return save(tensors)

    def to_json(self, file_sha256: str | None = None) -> dict[str, Any]:
        """``meta.json`` entry: the bank inline (base64) or, with ``file_sha256``, by reference."""
        out: dict[str, Any] = {"kind": KIND, "threshold": round(float(self.threshold), 4), "k": self.k,
                               "shape": list(self.bank.shape)}
        if file_sha256 is None:
            out["bank_safetensors_b64"] = base64.b64encode(self.bank_bytes()).decode("ascii")
        else:
            out.update(file=GATE_FILE, sha256=file_sha256)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any], folder: str | Path | None) -> NeighbourGate:
        """Read an entry written by :meth:`to_json` (a file reference is resolved inside ``folder``)."""
        from safetensors.numpy import load

        from butterflyer.fileio import sha256_bytes

        if "bank_safetensors_b64" in obj:
            data = base64.b64decode(obj["bank_safetensors_b64"])
        else:
            if folder is None:
                raise ModelError("the gate's bank is stored in a file, but no model folder was given")
            path = Path(folder) / str(obj.get("file", GATE_FILE))
            if not path.is_file():
                raise ModelError(f"{path} is missing; re-run 'butterflyer fit-serving {folder}'")
            data = path.read_bytes()
            if obj.get("sha256") and sha256_bytes(data) != obj["sha256"]:
                raise ModelError(f"{path} does not match meta.json (sha256); re-run 'butterflyer fit-serving "
                                 f"{folder}'")
        try:
            tensors = load(data)
            bank = dequantize_rows(tensors[BANK_TENSOR], tensors[SCALE_TENSOR])
            labels = tensors.get(LABEL_TENSOR)
        except Exception as exc:  # safetensors raises its own error types; a missing tensor is a KeyError
            raise ModelError(f"the gate's bank cannot be read ({exc}); "
                             "re-run 'butterflyer fit-serving'") from exc
        if labels is not None and len(labels) != len(bank):
            raise ModelError("the gate's bank and its row labels differ in length; "
                             "re-run 'butterflyer fit-serving'")
        return cls(bank, float(obj["threshold"]), int(obj.get("k", DEFAULT_NEIGHBOURS)), labels)
