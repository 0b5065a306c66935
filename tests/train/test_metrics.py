"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from butterflyer.train.metrics import (
    confusion_matrix,
    ece_noise_floor,
    most_confused,
    nll,
    per_class_prf,
    reliability,
    topk_accuracy,
)

LOGITS = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 2.0], [2.0, 3.0, 0.0]])
LABELS = torch.tensor([0, 2, 2, 0])  # predictions: 0, 1, 2, 1


def test_topk_by_hand() -> None:
    assert topk_accuracy(LOGITS, LABELS, 1) == pytest.approx(0.5)
    # top-2 sets: {0,1}, {1,2}, {2,0}, {1,0} -> all contain the label
    assert topk_accuracy(LOGITS, LABELS, 2) == pytest.approx(1.0)
    assert topk_accuracy(LOGITS, LABELS, 5) == pytest.approx(1.0)  # k capped at 3 classes


def test_confusion_and_prf_by_hand() -> None:
    cm = confusion_matrix(LOGITS.argmax(1), LABELS, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 0, 0], [0, 1, 1]]
    prf = per_class_prf(cm)
    assert prf["precision"].tolist() == pytest.approx([1.0, 0.0, 1.0])
    assert prf["recall"].tolist() == pytest.approx([0.5, 0.0, 0.5])
    assert prf["f1"].tolist() == pytest.approx([2 / 3, 0.0, 2 / 3])
    assert prf["support"].tolist() == [2, 0, 2]
    pairs = most_confused(cm, ["a", "b", "c"], 5)
    assert {(p["true"], p["predicted"], p["count"]) for p in pairs} == {("a", "b", 1), ("c", "b", 1)}


def test_ece_by_hand() -> None:
    # two bins of two examples: confidences 0.9 (1 right, 1 wrong) and 0.6 (both right)
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = torch.tensor([0, 1, 0, 0])
    rel = reliability(probs, labels, bins=10)
    expected = 0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6)
    assert rel.ece == pytest.approx(expected)
    assert sum(rel.count) == 4


def test_ece_noise_floor_matches_brute_force_and_shrinks_with_more_photos() -> None:
    # brute force: draw outcomes from the confidences, score each draw with reliability()
    gen = torch.Generator().manual_seed(1)
    conf = 0.5 + 0.5 * torch.rand(300, generator=gen, dtype=torch.float64)
    probs = torch.stack([conf, 1 - conf], 1)
    draws = []
    for _ in range(400):
        right = torch.rand(300, generator=gen, dtype=torch.float64) < conf
        draws.append(reliability(probs, torch.where(right, 0, 1), bins=15).ece)
    brute = sum(draws) / len(draws)
    floor = ece_noise_floor(conf, bins=15, draws=2000)
    assert floor == pytest.approx(brute, rel=0.08)
    assert 0.01 < floor < 0.1
    assert ece_noise_floor(conf.repeat(100), bins=15, draws=50) < floor / 5  # about 1/sqrt(n)
    assert ece_noise_floor(torch.ones(50)) == 0.0  # certain and always right: no noise
    assert math.isnan(ece_noise_floor(torch.empty(0)))


def test_nll_by_hand() -> None:
    logits = torch.tensor([[0.0, 0.0]])
    assert nll(logits, torch.tensor([0])) == pytest.approx(math.log(2))


def test_empty_inputs_are_nan_not_crash() -> None:
    assert math.isnan(topk_accuracy(torch.empty(0, 3), torch.empty(0, dtype=torch.long)))
