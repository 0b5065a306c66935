"""Helpers that run inside a component: pick the home, fill the output artifacts.

Outputs of the data and model steps are *pointer* artifacts: the data lives in
the home folder (``BUTTERFLYER_HOME``, a GCS mount on Vertex AI) where the stages
keep it, and the artifact's URI is that location, with content hashes as
metadata. Stable URIs and hashes make the orchestrator's cache key depend on the
content, so an unchanged rerun skips the downstream steps.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from butterflyer.pipeline.results import StepResult

GCS_MOUNT = "/gcs/"
JOURNAL_ENV = "BUTTERFLYER_RUN_JOURNAL"  # set by the local runner: where each step notes what it did


def steps(home: str = "") -> ModuleType:
    """The step adapters, with ``BUTTERFLYER_HOME`` pointed at ``home``."""
    from butterflyer.pipeline import steps as adapters

    adapters.use_home(home)
    return adapters


def call(home: str, step: str, *args: Any, **kwargs: Any) -> Any:
    """Run step adapter ``step`` and note it in the run's journal (time, reused or not, why)."""
    from butterflyer.pipeline.progress import say

    started = time.perf_counter()
    result = getattr(steps(home), step)(*args, **kwargs)
    seconds = time.perf_counter() - started
    cached = bool(getattr(result, "cached", False))
    reason = str(getattr(result, "reason", ""))
    say(step, f"{'reused' if cached else 'done'} in {seconds:.1f}s" + (f" ({reason})" if reason else ""))
    journal = os.environ.get(JOURNAL_ENV)
    if journal:
        entry = {"step": step, "seconds": round(seconds, 2), "cached": cached, "reason": reason}
        with open(journal, "a", encoding="utf-8") as fh:  # tasks run one at a time: appends do not mix
            fh.write(json.dumps(entry) + "\n")
    return result


def location(path: str) -> str:
    """An artifact URI for a path: ``/gcs/b/p`` becomes ``gs://b/p``, local paths become absolute."""
    if path.startswith(GCS_MOUNT):
        return "gs://" + path[len(GCS_MOUNT):]
    if "://" in path:
        return path
    return str(Path(path).resolve())


def publish(artifact: Any, result: StepResult) -> None:
    """Point ``artifact`` at ``result.uri`` and copy the result's small values into its metadata.

    :meth:`StepResult.metadata` leaves out what differs between a first run and a skipped rerun
    (it would needlessly change downstream cache keys).
    """
    artifact.uri = location(str(result.uri))
    artifact.metadata.update(json.loads(json.dumps(result.metadata(), default=str)))


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
