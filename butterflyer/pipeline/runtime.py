"""Helpers that run inside a component: pick the home, fill the output artifacts.

Outputs of the data and model steps are *pointer* artifacts: the data lives in
the home folder (``BUTTERFLYER_HOME``, a GCS mount on Vertex AI) where the stages
keep it, and the artifact's URI is that location, with content hashes as
metadata. Stable URIs and hashes make the orchestrator's cache key depend on the
content, so an unchanged rerun skips the downstream steps.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

STEPS_ENV = "BUTTERFLYER_PIPELINE_STEPS"
GCS_MOUNT = "/gcs/"


def steps(home: str = "") -> ModuleType:
    """The step adapters (``butterflyer.pipeline.steps``; tests may name another module in the env)."""
    from butterflyer.pipeline.steps import use_home

    use_home(home)
    return importlib.import_module(os.environ.get(STEPS_ENV) or "butterflyer.pipeline.steps")


def location(path: str) -> str:
    """An artifact URI for a path: ``/gcs/b/p`` becomes ``gs://b/p``, local paths become absolute."""
    if path.startswith(GCS_MOUNT):
        return "gs://" + path[len(GCS_MOUNT):]
    if "://" in path:
        return path
    return str(Path(path).resolve())


def _scalar_metadata(result: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in result.items():
        if key in ("uri", "metrics", "paths", "inputs"):
            continue
        if isinstance(value, str | int | float | bool) or value is None:
            meta[key] = value
        elif isinstance(value, dict | list):
            meta[key] = json.loads(json.dumps(value, default=str))
    return meta


def publish(artifact: Any, result: dict[str, Any]) -> None:
    """Point ``artifact`` at ``result["uri"]`` and copy the result's small values into its metadata.

    ``cached`` and ``step_key`` are left out: they differ between a first run and
    a skipped rerun and would needlessly change downstream cache keys.
    """
    artifact.uri = location(str(result["uri"]))
    volatile = {"cached", "step_key", "at"}
    artifact.metadata.update({k: v for k, v in _scalar_metadata(result).items() if k not in volatile})


def publish_metrics(artifact: Any, metrics: dict[str, float]) -> None:
    """Log each metric and also write them as JSON at the artifact's path (so it can be cached)."""
    for key, value in sorted(metrics.items()):
        artifact.log_metric(key, float(value))
    Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
    Path(artifact.path).write_text(json.dumps(metrics, indent=2, sort_keys=True))


def publish_markdown(artifact: Any, report: str, fallback: str) -> None:
    """Copy a markdown report file to the artifact's path (or write ``fallback`` text)."""
    text = Path(report).read_text(encoding="utf-8") if report and Path(report).is_file() else fallback
    Path(artifact.path).parent.mkdir(parents=True, exist_ok=True)
    Path(artifact.path).write_text(text, encoding="utf-8")


def metrics_of(artifact: Any) -> dict[str, float]:
    """Metrics from an input Metrics artifact (metadata, else its JSON file)."""
    found = {k: float(v) for k, v in (artifact.metadata or {}).items() if isinstance(v, int | float)}
    if not found and artifact.path and Path(artifact.path).is_file():
        found = {k: float(v) for k, v in json.loads(Path(artifact.path).read_text()).items()}
    return found


def path_of(artifact: Any) -> str:
    """Local path of an input artifact (``gs://`` maps to the ``/gcs/`` mount).

    Without that mount (a local run whose records live in a bucket) a ``gs://`` URI is
    returned as it is: the stages read records through fsspec.
    """
    uri = str(getattr(artifact, "uri", "") or "")
    if uri.startswith("gs://") and not os.path.isdir(GCS_MOUNT):
        return uri
    return str(artifact.path)
