"""Pipeline test fixtures: fake stages for the DAG (the MLflow store comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def fake_stages(monkeypatch: pytest.MonkeyPatch, mlflow_store: str) -> Path:
    """Make the components use tests/pipeline/fake_steps.py; returns the call log path."""
    from butterflyer.paths import home

    monkeypatch.setenv("BUTTERFLYER_PIPELINE_STEPS", "fake_steps")
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.syspath_prepend(str(HERE))
    return home() / "calls.log"
