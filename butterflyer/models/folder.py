"""Find the model folder the user means: a model folder, or a run folder that holds one.

``butterflyer train --output RUN`` writes ``RUN/model/`` (meta.json + weights)
beside its plots and report; every command that takes a model folder accepts
either, so the folder the trainer printed always works.
"""

from __future__ import annotations

from pathlib import Path

from butterflyer.errors import ModelError
from butterflyer.models.meta import META_FILE, ONNX_FILE, WEIGHTS_FILE

RUN_MODEL_SUBDIR = "model"  # where a training run keeps its model


def resolve_model_folder(path: str | Path) -> Path:
    """``path`` if it holds ``meta.json``, else ``path/model`` if that does; else a clear error."""
    folder = Path(path).expanduser()
    if (folder / META_FILE).is_file():
        return folder
    inner = folder / RUN_MODEL_SUBDIR
    if (inner / META_FILE).is_file():
        return inner
    raise ModelError(f"{folder} is not a model folder: {_describe(folder)}. Give the folder holding "
                     f"{META_FILE} and {WEIGHTS_FILE} or {ONNX_FILE} (what 'butterflyer train' or "
                     "'butterflyer compress run' wrote), or the training run folder that holds model/")


def _describe(folder: Path) -> str:
    """What is at ``folder``, in a few words, for the error message."""
    if not folder.exists():
        return "it does not exist"
    if not folder.is_dir():
        return "it is a file, not a folder"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not names:
        return "it is empty"
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"it holds {shown} but no {META_FILE}"
