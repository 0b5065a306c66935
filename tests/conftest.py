"""Shared fixtures: every test gets its own BUTTERFLYER_HOME under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def butterflyer_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all state at a fresh folder and a fresh SQLite MLflow store."""
    home = tmp_path / "home"
    monkeypatch.setenv("BUTTERFLYER_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home
