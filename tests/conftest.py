"""Shared fixtures: every test gets its own BUTTERFLYER_HOME under tmp_path."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")
# Nothing may depend on the machine's time zone or locale: run the suite far from UTC, in the C locale
# (the terminal width is checked by running the suite with COLUMNS=40 and with COLUMNS unset).
os.environ["TZ"] = "Pacific/Kiritimati"
os.environ["LANG"] = "C"
time.tzset()


@pytest.fixture(autouse=True)
def butterflyer_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all state at a fresh folder and a fresh SQLite MLflow store."""
    home = tmp_path / "home"
    monkeypatch.setenv("BUTTERFLYER_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised, empty MLflow SQLite database (the schema takes seconds: built once)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "empty.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_store(butterflyer_home: Path, empty_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the empty store, in the env so kfp.local task subprocesses see it too."""
    butterflyer_home.mkdir(parents=True, exist_ok=True)
    db = butterflyer_home / "mlflow.db"
    shutil.copy(empty_mlflow_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def load_benchmark():  # noqa: ANN201
    """``load_benchmark("bench_serve")``: a script from ``benchmarks/`` imported as a module (scripts are no
    package; registered in ``sys.modules`` so its dataclasses resolve their module)."""
    import importlib.util
    import sys

    def load(name: str):  # noqa: ANN202
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    return load
