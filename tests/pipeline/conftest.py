"""Pipeline test fixtures: the registry store of tests/registry, and fake stages for the DAG."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty MLflow SQLite database (creating the schema takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(butterflyer_home: Path, empty_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the empty store, also seen by kfp.local's task subprocesses (via the env)."""
    butterflyer_home.mkdir(parents=True, exist_ok=True)
    db = butterflyer_home / "mlflow.db"
    shutil.copy(empty_mlflow_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def fake_stages(monkeypatch: pytest.MonkeyPatch, mlflow_store: str) -> Path:
    """Make the components use tests/pipeline/fake_steps.py; returns the call log path."""
    from butterflyer.paths import home

    monkeypatch.setenv("BUTTERFLYER_PIPELINE_STEPS", "fake_steps")
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.syspath_prepend(str(HERE))
    return home() / "calls.log"
