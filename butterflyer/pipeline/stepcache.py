"""Skip a step whose inputs have not changed.

A step's result (a small JSON dict) is stored under ``home/pipeline/steps/``
keyed by the sha256 of its name and inputs. A stored result is reused only while
every path it names under ``"uri"`` (and ``"paths"``) still exists, so deleting
an output makes the step run again. This works the same from the CLI, from
``kfp.local`` subprocesses and on Vertex AI (where the home may be a GCS mount).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from butterflyer.fileio import atomic_write_json, is_remote, read_json
from butterflyer.paths import home

NO_CACHE_ENV = "BUTTERFLYER_NO_STEP_CACHE"


def step_key(name: str, inputs: dict[str, Any]) -> str:
    """Stable hash of a step's name and JSON-able inputs."""
    blob = json.dumps({"step": name, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _entry(name: str, key: str) -> Path:
    return home() / "pipeline" / "steps" / f"{name}-{key[:24]}.json"


def _outputs_exist(result: dict[str, Any]) -> bool:
    paths = [result.get("uri"), *result.get("paths", [])]
    for path in paths:
        if not path or is_remote(str(path)):
            continue
        if not Path(str(path)).exists():
            return False
    return True


def cached_step(name: str, inputs: dict[str, Any], run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return the stored result for ``(name, inputs)`` or run ``run()`` and store it.

    The returned dict gains ``"cached": True/False`` and ``"step_key"``.
    """
    key = step_key(name, inputs)
    entry = _entry(name, key)
    if not os.environ.get(NO_CACHE_ENV) and entry.is_file():
        try:
            stored = read_json(entry)
        except (OSError, ValueError):
            stored = None
        if isinstance(stored, dict) and _outputs_exist(stored):
            return {**stored, "cached": True, "step_key": key}
    result = dict(run())
    result.pop("cached", None)
    atomic_write_json(entry, {**result, "inputs": inputs})
    return {**result, "cached": False, "step_key": key}
