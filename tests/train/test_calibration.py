"""Temperature scaling fixes an over-confident toy model without changing its predictions."""

from __future__ import annotations

import pytest
import torch

from butterflyer.errors import DataError
from butterflyer.train.calibration import fit_temperature
from butterflyer.train.metrics import reliability


def _toy(n: int = 4000, k: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Calibrated logits (labels drawn from their softmax), then sharpened x4: over-confident."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g) * 1.5
    labels = torch.multinomial(torch.softmax(logits, 1), 1, generator=g).squeeze(1)
    return logits * 4.0, labels


def test_temperature_lowers_ece_and_recovers_scale() -> None:
    logits, labels = _toy()
    t = fit_temperature(logits[:2000], labels[:2000])
    assert t == pytest.approx(4.0, rel=0.2)
    before = reliability(torch.softmax(logits[2000:], 1), labels[2000:]).ece
    after = reliability(torch.softmax(logits[2000:] / t, 1), labels[2000:]).ece
    assert after < before / 2
    assert torch.equal((logits / t).argmax(1), logits.argmax(1))


def test_empty_validation_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="val"):
        fit_temperature(torch.empty(0, 3), torch.empty(0, dtype=torch.long))
