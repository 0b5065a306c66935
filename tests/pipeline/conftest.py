"""Pipeline test fixtures: fake stages for the DAG (the MLflow store comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def fake_stages(monkeypatch: pytest.MonkeyPatch, mlflow_store: str) -> Path:
    """Make the components' subprocesses use tests/pipeline/fake_steps.py; returns the call log path.

    The swap is the test-only ``fake_site/sitecustomize.py`` on the subprocesses' PYTHONPATH.
    """
    import os

    from butterflyer.paths import home

    inherited = os.environ.get("PYTHONPATH", "")
    search = (str(HERE / "fake_site"), str(HERE), inherited)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in search if p))
    monkeypatch.syspath_prepend(str(HERE))
    return home() / "calls.log"
