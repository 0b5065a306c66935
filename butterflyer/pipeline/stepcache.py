"""Skip a step whose inputs and code have not changed.

A step's result is stored under ``home/pipeline/steps/`` keyed by the sha256 of
its name, its inputs and the code it runs: the package version plus a hash of
the source files of the packages the stage uses (:data:`STAGE_CODE`), so a fix
to the trainer retrains instead of serving the stale model. A stored result is
reused only while every path it names still exists, so deleting an output makes
the step run again. Each call also says *why* it ran or was reused (first run,
which inputs changed, which packages' code changed), kept beside the entries
for the run summary. This works the same from the CLI, from ``kfp.local``
subprocesses and on Vertex AI (where the home may be a GCS mount).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from butterflyer.fileio import atomic_write_json, is_remote, read_json
from butterflyer.paths import home
from butterflyer.pipeline.results import StepResult

NO_CACHE_ENV = "BUTTERFLYER_NO_STEP_CACHE"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]

# the packages whose code each cached stage runs (a change in any of them reruns the stage)
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "train": ("train", "models", "data"),
    "evaluate": ("train", "models", "compress"),
    "compress": ("compress", "models", "train", "serve"),
}

R = TypeVar("R", bound=StepResult)


def step_key(name: str, inputs: dict[str, Any], code: dict[str, str] | None = None) -> str:
    """Stable hash of a step's name, JSON-able inputs and code digests."""
    blob = json.dumps({"step": name, "inputs": inputs, "code": code or {}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@functools.cache
def package_digest(package: str) -> str:
    """sha256 over the names and contents of ``butterflyer/<package>``'s source and data files."""
    folder = PACKAGE_ROOT / package
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_digests(name: str) -> dict[str, str]:
    """``{"version": package version, "<package>": digest, ...}`` for stage ``name``."""
    from butterflyer import __version__

    return {"version": __version__, **{pkg: package_digest(pkg)[:16] for pkg in STAGE_CODE.get(name, ())}}


def _entry(name: str, key: str) -> Path:
    return home() / "pipeline" / "steps" / f"{name}-{key[:24]}.json"


def _last(name: str) -> Path:
    return home() / "pipeline" / "steps" / f"{name}.last.json"


def _outputs_exist(result: StepResult) -> bool:
    for path in result.output_paths:
        if not path or is_remote(str(path)):
            continue
        if not Path(str(path)).exists():
            return False
    return True


def _why_run(name: str, inputs: dict[str, Any], code: dict[str, str], stored_missing: bool) -> str:
    """Why the step runs: compared with the step's previous run on this home."""
    if os.environ.get(NO_CACHE_ENV):
        return f"step cache off ({NO_CACHE_ENV})"
    try:
        last = read_json(_last(name))
    except (OSError, ValueError):
        return "first run"
    changed_code = sorted(k for k in code if last.get("code", {}).get(k) != code[k])
    old_inputs = last.get("inputs", {})
    changed_inputs = sorted(k for k in set(inputs) | set(old_inputs)
                            if json.dumps(inputs.get(k), sort_keys=True, default=str)
                            != json.dumps(old_inputs.get(k), sort_keys=True, default=str))
    parts = []
    if changed_code:
        parts.append("code changed: " + ", ".join(changed_code))
    if changed_inputs:
        parts.append("inputs changed: " + ", ".join(changed_inputs))
    if not parts:
        parts.append("its output was deleted" if stored_missing else "no stored result")
    return "; ".join(parts)


def cached_step(name: str, inputs: dict[str, Any], run: Callable[[], R], kind: type[R]) -> R:
    """The stored result for ``(name, inputs, code)`` or ``run()``'s, stored for next time.

    The returned result's ``cached``, ``step_key`` and ``reason`` say what happened.
    """
    code = code_digests(name)
    key = step_key(name, inputs, code)
    entry = _entry(name, key)
    stored_missing = False
    if not os.environ.get(NO_CACHE_ENV) and entry.is_file():
        try:
            stored = kind.from_stored(read_json(entry)["result"])
        except (OSError, ValueError, KeyError, TypeError):  # unreadable or older format: run again
            stored = None
        if stored is not None and _outputs_exist(stored):
            stored.cached, stored.step_key, stored.reason = True, key, "inputs and code unchanged"
            return stored
        stored_missing = stored is not None
    reason = _why_run(name, inputs, code, stored_missing)
    result = run()
    record = {"inputs": inputs, "code": code}
    atomic_write_json(entry, {"result": result.stored(), **record})
    atomic_write_json(_last(name), record)
    result.cached, result.step_key, result.reason = False, key, reason
    return result


def code_version() -> str:
    """``VERSION+SHA`` of the whole package's source: a pipeline parameter, so that the orchestrator's
    cache key (which covers only the component bodies and inputs) changes when any code does."""
    from butterflyer import __version__

    digest = hashlib.sha256()
    for package in sorted(p.name for p in PACKAGE_ROOT.iterdir() if p.is_dir() and p.name != "__pycache__"):
        digest.update(package_digest(package).encode())
    for path in sorted(PACKAGE_ROOT.glob("*.py")):
        digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"
