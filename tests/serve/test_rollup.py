"""Roll-up decisions and threshold fitting on controlled probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from butterflyer.serve.rollup import Thresholds, decide, fit_thresholds

GENERA = ["Danaus", "Danaus", "Limenitis", "Attacus", "Papilio", "Papilio", "Iphiclides"]
FAMILIES = ["Nymphalidae", "Nymphalidae", "Nymphalidae", "Saturniidae", "Papilionidae", "Papilionidae",
            "Papilionidae"]
TH = Thresholds(species=0.6, genus=0.7, family=0.8)


def test_confident_species_is_named() -> None:
    roll = decide(np.array([0.9, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01]), GENERA, FAMILIES, TH)
    assert (roll.verdict, roll.species_index) == ("species", 0)


def test_split_between_two_species_of_a_genus_rolls_up_to_genus() -> None:
    roll = decide(np.array([0.45, 0.40, 0.05, 0.04, 0.02, 0.02, 0.02]), GENERA, FAMILIES, TH)
    assert (roll.verdict, roll.name) == ("genus", "Danaus")
    assert roll.probability == pytest.approx(0.85)


def test_split_across_genera_of_a_family_rolls_up_to_family() -> None:
    roll = decide(np.array([0.02, 0.02, 0.02, 0.04, 0.35, 0.20, 0.35]), GENERA, FAMILIES, TH)
    assert (roll.verdict, roll.name) == ("family", "Papilionidae")
    assert roll.probability == pytest.approx(0.90)


def test_spread_out_is_uncertain() -> None:
    roll = decide(np.array([0.2, 0.1, 0.2, 0.2, 0.1, 0.1, 0.1]), GENERA, FAMILIES, TH)
    assert roll.verdict == "uncertain"


def test_without_taxonomy_there_is_no_roll_up() -> None:
    none = [None] * 7
    roll = decide(np.array([0.45, 0.40, 0.05, 0.04, 0.02, 0.02, 0.02]), none, none, TH)
    assert roll.verdict == "uncertain"


def test_fit_picks_the_lowest_threshold_that_is_precise_enough() -> None:
    rng = np.random.default_rng(0)
    n, c = 400, 7
    targets = rng.integers(0, c, n)
    top = rng.uniform(0.3, 1.0, n)
    # right exactly when the raw top score is at least 0.5 (0.5 + 0.5 / c once the rest is spread out)
    pred = np.where(top >= 0.5, targets, (targets + 1) % c)
    probs = np.full((n, c), 0.0)
    probs[np.arange(n), pred] = top
    probs += (1 - probs.sum(1, keepdims=True)) / c
    labels = [f"L{i}" for i in range(c)]
    th = fit_thresholds(probs, targets, lambda lab: (GENERA[int(lab[1:])], FAMILIES[int(lab[1:])]), labels,
                        target_precision=0.99)
    boundary = 0.5 + 0.5 / c
    assert boundary - 0.01 <= th.species <= boundary + 0.02
