"""Answer at the lowest taxonomic rank the model is sure enough about.

With calibrated species probabilities ``p``: name the species when its ``p``
reaches ``species``; otherwise add up ``p`` within each genus, then each family
(taxonomy from the field guide), and name the first group that reaches its
threshold; otherwise say ``uncertain``.

Thresholds are fitted on the validation split by :func:`fit_thresholds`: for
each rank, the lowest threshold whose answers on validation are right at least
``target_precision`` of the time (among the images not already answered at a
lower rank). Without a fit the documented defaults below apply: 0.60 for a
species, 0.70 for a genus and 0.80 for a family; stricter than 0.5 so that a
named species is more likely right than not even before calibration is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_SPECIES = 0.60
DEFAULT_GENUS = 0.70
DEFAULT_FAMILY = 0.80
GRID = np.round(np.arange(0.20, 0.991, 0.01), 2)


@dataclass(frozen=True)
class Thresholds:
    """Minimum calibrated probability to answer at each rank."""

    species: float = DEFAULT_SPECIES
    genus: float = DEFAULT_GENUS
    family: float = DEFAULT_FAMILY

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class RollUp:
    """``verdict`` in species/genus/family/uncertain, the species index or the group name."""

    verdict: str
    species_index: int | None
    rank: str | None
    name: str | None
    probability: float


def group_probabilities(probs: np.ndarray, groups: Sequence[str | None]) -> dict[str, float]:
    """Sum ``probs`` per group name; labels without a group are left out."""
    sums: dict[str, float] = {}
    for p, g in zip(probs.tolist(), groups, strict=True):
        if g:
            sums[g] = sums.get(g, 0.0) + p
    return sums


def decide(probs: np.ndarray, genera: Sequence[str | None], families: Sequence[str | None],
           thresholds: Thresholds) -> RollUp:
    """Roll ``probs`` (one image, calibrated) up the taxonomy until a rank is likely enough."""
    best = int(np.argmax(probs))
    top = float(probs[best])
    if top >= thresholds.species:
        return RollUp("species", best, "species", None, top)
    for rank, groups, need in (("genus", genera, thresholds.genus), ("family", families, thresholds.family)):
        sums = group_probabilities(probs, groups)
        if sums:
            name, p = max(sums.items(), key=lambda kv: kv[1])
            if p >= need:
                return RollUp(rank, None, rank, name, float(p))
    return RollUp("uncertain", None, None, None, top)


def _lowest_precise(scores: np.ndarray, correct: np.ndarray, target: float, min_answers: int) -> float | None:
    """Smallest grid threshold whose answers (score >= t) are correct at least ``target`` of the time."""
    for t in GRID:
        chosen = scores >= t
        if chosen.sum() >= min_answers and correct[chosen].mean() >= target:
            return float(t)
    return None


def fit_thresholds(probs: np.ndarray, targets: np.ndarray,
                   groups_of: Callable[[str], tuple[str | None, str | None]], labels: Sequence[str],
                   target_precision: float = 0.95, min_answers: int = 5) -> Thresholds:
    """Choose thresholds on validation probabilities ``(N, C)`` and true indices ``(N,)``.

    Species first: the lowest threshold whose species answers reach
    ``target_precision``. Then, only on images left unanswered, the genus and
    family thresholds the same way. A rank with too few images to judge keeps its
    default.
    """
    probs = np.asarray(probs, dtype=np.float64)
    targets = np.asarray(targets)
    genera = [groups_of(label)[0] for label in labels]
    families = [groups_of(label)[1] for label in labels]
    top = probs.max(axis=1)
    species_t = _lowest_precise(top, probs.argmax(axis=1) == targets, target_precision, min_answers)
    species_t = DEFAULT_SPECIES if species_t is None else species_t
    left = top < species_t
    chosen = {"species": species_t}
    for rank, groups, default in (("genus", genera, DEFAULT_GENUS), ("family", families, DEFAULT_FAMILY)):
        fitted: float | None = None
        if left.any() and any(groups):
            scores, correct = [], []
            for row, truth in zip(probs[left], targets[left], strict=True):
                sums = group_probabilities(row, groups)
                if not sums:
                    continue
                name, p = max(sums.items(), key=lambda kv: kv[1])
                scores.append(p)
                correct.append(groups[int(truth)] == name)
            if scores:
                fitted = _lowest_precise(np.array(scores), np.array(correct), target_precision, min_answers)
        value = default if fitted is None else fitted
        chosen[rank] = value
        if left.any():
            left = left & ~_answered(probs, groups, value)
    return Thresholds(**chosen)


def _answered(probs: np.ndarray, groups: Sequence[str | None], threshold: float) -> np.ndarray:
    out = np.zeros(len(probs), dtype=bool)
    for i, row in enumerate(probs):
        sums = group_probabilities(row, groups)
        out[i] = bool(sums) and max(sums.values()) >= threshold
    return out
