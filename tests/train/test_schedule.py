"""Warm-up then cosine decay."""

from __future__ import annotations

import pytest

from butterflyer.train.schedule import cosine_lr


def test_warmup_then_cosine() -> None:
    values = [cosine_lr(s, 100, 10) for s in range(100)]
    assert values[0] == pytest.approx(0.1)
    assert values[9] == pytest.approx(1.0)
    assert values[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(values[10:], values[11:], strict=False))
    assert values[-1] < 0.05
    assert cosine_lr(0, 0, 0) == 1.0
