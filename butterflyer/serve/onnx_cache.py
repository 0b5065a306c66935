"""Find or make the ``model.onnx`` a model folder is served from.

A compressed model folder already holds ``model.onnx``. A freshly trained one
holds only ``model.safetensors``: it is exported once with the compression
stage's exporter (``butterflyer.compress.export.export_onnx``) when that module
is installed, otherwise with a plain ``torch.onnx.export`` of the same export
view, and cached under ``<home>/cache/onnx/v<format>-<weights sha256>/``.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

from butterflyer.errors import ModelError
from butterflyer.fileio import is_remote, sha256_file
from butterflyer.models.meta import META_FILE, ONNX_FILE, WEIGHTS_FILE, ModelMeta
from butterflyer.paths import cache_dir

log = logging.getLogger(__name__)
_EXPORT_LOCK = threading.Lock()
EXPORT_FORMAT = 2  # bump when the exported outputs change (2: + features), so old cached exports are redone


def local_model_folder(uri: str) -> Path:
    """A local model folder for ``uri`` (a model or training run folder, or ``models:/NAME@ALIAS``)."""
    if uri.startswith("models:/") or is_remote(uri):
        try:
            from butterflyer.registry.resolve import resolve_model_uri
        except ImportError as exc:
            raise ModelError(f"cannot resolve {uri}: the registry module is not installed; "
                             "pass a model folder with --model PATH instead") from exc
        return Path(resolve_model_uri(uri))
    from butterflyer.models.folder import resolve_model_folder

    folder = Path(uri).expanduser()
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist; pass a folder holding meta.json and "
                         "model.onnx or model.safetensors, or models:/butterflyer@champion")
    return resolve_model_folder(folder).resolve()


def onnx_for(folder: Path) -> Path:
    """``folder/model.onnx`` when present, else a cached export of ``folder/model.safetensors``."""
    direct = folder / ONNX_FILE
    if direct.is_file():
        return direct
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelError(f"{folder} has neither {ONNX_FILE} nor {WEIGHTS_FILE}; point at a saved or "
                         "compressed model folder")
    target_dir = cache_dir() / "onnx" / f"v{EXPORT_FORMAT}-{sha256_file(weights)[:24]}"
    target = target_dir / ONNX_FILE
    with _EXPORT_LOCK:
        if target.is_file():
            return target
        log.info("exporting %s to ONNX once (cached in %s)", folder, target_dir)
        made = _export(folder, target_dir)
        if made != target:
            target_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made, target)
        if not (target_dir / META_FILE).is_file():
            shutil.copyfile(folder / META_FILE, target_dir / META_FILE)
    return target


def _export(folder: Path, out_dir: Path) -> Path:
    try:
        from butterflyer.compress.export import export_onnx
    except ImportError:
        return _plain_export(folder, out_dir)
    made = Path(export_onnx(folder, out_dir))
    return made / ONNX_FILE if made.is_dir() else made


def _plain_export(folder: Path, out_dir: Path) -> Path:
    """Fallback exporter: input ``image``, outputs as :func:`~butterflyer.models.serving_output_names`."""
    import torch

    from butterflyer.models import ServingOutputs, load_model
    from butterflyer.models.classifier import serving_output_names

    model, meta = load_model(folder)
    net = ServingOutputs(model).eval()
    outputs = serving_output_names(model)
    size = meta.data_config.input_size
    dummy = torch.zeros(1, 3, size, size)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ONNX_FILE
    partial = out_dir / f".{ONNX_FILE}.partial"
    torch.onnx.export(net, (dummy,), str(partial), input_names=["image"], output_names=outputs,
                      dynamic_axes={"image": {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
                      opset_version=17, dynamo=False)
    os.replace(partial, target)  # never leave a half-written model.onnx
    _check_meta(meta, folder)
    return target


def _check_meta(meta: ModelMeta, folder: Path) -> None:
    if not meta.labels:
        raise ModelError(f"{folder}/{META_FILE} lists no labels")
