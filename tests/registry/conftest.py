"""Registry fixtures: a fresh MLflow SQLite store per test (copied from one built per session)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from butterflyer.models import ModelMeta, create_model, save_model


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty MLflow SQLite database (creating the schema takes seconds)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(butterflyer_home: Path, empty_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the registry at a private copy of the empty database."""
    butterflyer_home.mkdir(parents=True, exist_ok=True)
    db = butterflyer_home / "mlflow.db"
    shutil.copy(empty_mlflow_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture
def make_model(tmp_path: Path) -> Callable[..., Path]:
    """Save a tiny model folder with the given metrics; each call gets different weights."""
    counter = {"n": 0}

    def make(top1: float | None = 0.8, data_sha: str | None = "sha-a", latency: float | None = 5.0,
             stage: str = "trained") -> Path:
        import torch

        counter["n"] += 1
        torch.manual_seed(counter["n"])
        model = create_model("tiny", 3, pretrained=False)
        metrics: dict[str, float] = {}
        if top1 is not None:
            metrics["test_top1"] = top1
        if latency is not None:
            metrics["latency_ms_p50"] = latency
        meta = ModelMeta(architecture="tiny", labels=["a", "b", "c"], metrics=metrics, stage=stage,
                         data_manifest_sha256=data_sha, git_commit="abc123", config={"epochs": 1, "lr": 0.1})
        return save_model(model, tmp_path / f"model{counter['n']}", meta)

    return make
