"""Serving defaults that the load test depends on."""

from __future__ import annotations

import inspect

import pytest

from butterflyer.serve import deps
from butterflyer.serve.settings import ServeSettings, default_concurrency


@pytest.mark.parametrize(("cores", "expected"), [(None, 2), (1, 2), (2, 3), (7, 8), (64, 8)])
def test_default_concurrency_is_one_more_than_the_cores_up_to_8(cores: int | None, expected: int) -> None:
    assert default_concurrency(cores) == expected


def test_concurrency_can_still_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUTTERFLYER_SERVE_MAX_CONCURRENCY", "5")
    assert ServeSettings.from_env(model_uri="m").max_concurrency == 5


def test_dependencies_run_on_the_event_loop() -> None:
    """A plain ``def`` dependency would cost a worker-thread hop on every request."""
    for dep in (deps.get_settings, deps.get_holder, deps.get_metrics):
        assert inspect.iscoroutinefunction(dep), dep.__name__
