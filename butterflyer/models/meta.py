"""What travels with every saved model: ``meta.json``.

A saved model is a folder holding weights (``model.safetensors`` for PyTorch,
``model.onnx`` for ONNX Runtime, or both) and ``meta.json`` described by
:class:`ModelMeta`. Training, evaluation, compression and serving all read the
preprocessing (:class:`DataConfig`), labels and calibration temperature from it,
so they cannot drift apart. Loaders fill in keys that older files lack.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from butterflyer.errors import ModelError
from butterflyer.fileio import atomic_write_text

META_FILE = "meta.json"
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
FEATURES = "features"  # the export output holding the pooled features the gate reads
SCHEMA_VERSION = 1
# metric names that hold a share of images (stored as fractions in [0, 1]; percent is for display only)
FRACTION_METRICS = re.compile(r"(top\d+|accuracy|acc|f1|precision|recall|ece|agreement)$")


class DataConfig(BaseModel):
    """Preprocessing a model expects: resize the shorter side, centre-crop, normalise."""

    input_size: int = 224
    resize_size: int = 256
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bilinear"


class ModelMeta(BaseModel):
    """Everything needed to use a saved model without the code that trained it."""

    schema_version: int = SCHEMA_VERSION
    architecture: str
    version: str = "0"
    labels: list[str]
    data_config: DataConfig = Field(default_factory=DataConfig)
    temperature: float = 1.0
    has_imagenet_head: bool = False
    pretrained: str | None = None
    stage: str = "trained"
    metrics: dict[str, float] = Field(default_factory=dict)
    data_manifest_sha256: str | None = None
    git_commit: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _fractions(cls, metrics: dict[str, float]) -> dict[str, float]:
        for key, value in metrics.items():
            if FRACTION_METRICS.search(key) and not math.isnan(value) and not 0.0 <= value <= 1.0:
                raise ValueError(f"metric {key}={value} must be a fraction in [0, 1] "
                                 f"(write {value / 100:.4f} for {value} %)")
        return metrics

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def save(self, folder: str | Path) -> Path:
        """Write ``meta.json`` into ``folder`` atomically."""
        path = Path(folder) / META_FILE
        atomic_write_text(path, self.model_dump_json(indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> ModelMeta:
        """Read ``meta.json`` from a model folder, with a clear error when it is missing."""
        path = Path(folder) / META_FILE
        if not path.is_file():
            raise ModelError(f"{folder} is not a saved model: {META_FILE} is missing. "
                             "Point at the model folder that 'butterflyer train' (RUN/model/) or "
                             "'butterflyer compress' wrote.")
        return cls.model_validate_json(path.read_text(encoding="utf-8"))
