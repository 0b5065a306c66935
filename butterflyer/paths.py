"""One home folder for all state.

Everything ButterFlyer writes (raw data, interim splits, records, runs, models,
the MLflow store, the chat index) lives under ``BUTTERFLYER_HOME``, which defaults
to ``./.butterflyer`` in the current directory. Tests point it at ``tmp_path``.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "BUTTERFLYER_HOME"


def home() -> Path:
    """The home folder (created on first use)."""
    root = Path(os.environ.get(HOME_ENV, ".butterflyer")).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _sub(name: str) -> Path:
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def raw_dir() -> Path:
    """Immutable copies of collected sources, one folder per source."""
    return _sub("raw")


def interim_dir() -> Path:
    """Validated, de-duplicated splits (CSV), labels and the data report."""
    return _sub("interim")


def records_dir() -> Path:
    """Default output of ``build-records``: sharded TFRecords and their manifest."""
    return _sub("records")


def runs_dir() -> Path:
    """Training runs: checkpoints, curves, saved models."""
    return _sub("runs")


def models_dir() -> Path:
    """Exported and compressed models."""
    return _sub("models")


def cache_dir() -> Path:
    """Derived data that can always be rebuilt (feature caches, chat index)."""
    return _sub("cache")


def mlflow_uri() -> str:
    """Tracking/registry URI: ``MLFLOW_TRACKING_URI`` or a SQLite file under home."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{home() / 'mlflow.db'}"


def mlflow_artifacts_dir() -> Path:
    """Where a local MLflow store keeps run artifacts."""
    return _sub("mlartifacts")
