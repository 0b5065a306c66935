"""Lineage of a model folder: what it was trained on, from which code, how good it is.

The registry stores these as tags on each model version so that ``models show``
answers "where did this model come from?" without opening the folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from butterflyer.errors import RegistryError
from butterflyer.fileio import sha256_file
from butterflyer.models.meta import META_FILE, ModelMeta
from butterflyer.provenance import git_commit

WEIGHT_FILES = ("model.safetensors", "model.onnx")
MAX_TAG_CHARS = 4000


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 over the weight files (name + content hash) and ``meta.json``'s labels.

    Two folders with the same fingerprint hold the same model, so registering
    the same folder twice finds the existing version instead of adding one.
    """
    folder = Path(model_dir)
    digest = hashlib.sha256()
    found = False
    for name in WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            found = True
            digest.update(name.encode())
            digest.update(sha256_file(path).encode())
    if not found:
        raise RegistryError(f"{folder} holds neither {' nor '.join(WEIGHT_FILES)}; "
                            "register a folder written by 'butterflyer train' or 'butterflyer compress'")
    meta = ModelMeta.load(folder)
    digest.update(json.dumps(meta.labels).encode())
    return digest.hexdigest()


def lineage_tags(model_dir: str | Path, report: str | Path | None = None) -> dict[str, str]:
    """String tags describing ``model_dir`` (MLflow tags are strings)."""
    folder = Path(model_dir)
    if not (folder / META_FILE).is_file():
        raise RegistryError(f"{folder} is not a saved model ({META_FILE} missing); "
                            "point at a folder written by 'butterflyer train' or 'butterflyer compress'")
    meta = ModelMeta.load(folder)
    tags: dict[str, str] = {
        "architecture": meta.architecture,
        "stage": meta.stage,
        "num_classes": str(meta.num_classes),
        "model_sha256": model_fingerprint(folder),
        "data_manifest_sha256": meta.data_manifest_sha256 or "unknown",
        "git_commit": meta.git_commit or git_commit() or "unknown",
        "formats": ",".join(name for name in WEIGHT_FILES if (folder / name).is_file()),
        "source_dir": str(folder.resolve()),
    }
    if meta.pretrained:
        tags["pretrained"] = meta.pretrained
    for key, value in meta.metrics.items():
        tags[f"metric.{key}"] = repr(float(value))  # fractions: ModelMeta refuses anything else
    if meta.config:
        tags["params"] = _clip(json.dumps(meta.config, sort_keys=True, default=str))
    if report:
        tags["report"] = str(report)
    return tags


def metrics_from_tags(tags: dict[str, str]) -> dict[str, float]:
    """The ``metric.*`` tags back as floats."""
    out: dict[str, float] = {}
    for key, value in tags.items():
        if key.startswith("metric."):
            try:
                out[key[len("metric."):]] = float(value)
            except ValueError:
                continue
    return out


def flat_params(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config as ``a.b=value`` strings (MLflow params are flat)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_params(value, prefix=f"{name}."))
        else:
            out[name] = _clip(str(value), 500)
    return out


def _clip(text: str, limit: int = MAX_TAG_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
