"""A learned "is this species unknown?" score, fitted without any truly unknown photos.

The served model has no photos of the species it does not know, so unknowns are
simulated from the known ones (cross-fitting over labels): the labels are split into
``groups``; for each group, its labels are hidden (their probability renormalised away,
their bank rows removed, :func:`~butterflyer.serve.openset_scores.hide`) and its
validation photos become the unknowns, while the other labels' validation photos,
seen through the same reduced model, are the knowns. A logistic regression on the
standardised :mod:`~butterflyer.serve.openset_scores` signals then predicts "unknown".

Hiding a label's probability is exactly a softmax over the remaining logits, but the
head was trained with that label, which pushed the other labels' logits down on its
photos: the simulated unknowns look a little less confident than real ones. The
benchmark (``benchmarks/bench_openset.py``) measures the fitted rule on truly held-out
species, never on these simulations.

The threshold is chosen on the same validation photos, seen by the full model: the
lowest one that costs at most ``max_species_loss`` of the photos a correct species
answer under the plain roll-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from butterflyer.errors import ModelError
from butterflyer.serve.openset_scores import SCORE_NAMES, ScoreBank, candidate_scores, hide

DEFAULT_GROUPS = 5
# the served threshold is set on validation photos; test photos lost about a point more on the benchmark
DEFAULT_MAX_SPECIES_LOSS = 0.015
# the signals the served rule combines, chosen on the benchmark's tuning group (benchmarks/bench_openset.py)
SIGNAL_SETS: dict[str, tuple[str, ...]] = {
    "all": SCORE_NAMES,
    "probabilities": ("top_prob", "margin", "neg_entropy", "genus_mass"),
    "probabilities+neighbours": ("top_prob", "margin", "neg_entropy", "genus_mass", "species_sim",
                                 "sim_margin", "knn_agree", "knn_genus_agree"),
    "genus_mass": ("genus_mass",),
}
DEFAULT_SIGNALS = SIGNAL_SETS["all"]


@dataclass(frozen=True)
class Combiner:
    """``unknown`` when ``((scores - mean) / scale) @ weights + bias >= threshold`` (a log-odds)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def logit(self, scores: dict[str, np.ndarray]) -> np.ndarray:
        """Log-odds of "unknown species" per photo."""
        x = np.stack([np.asarray(scores[n], dtype=np.float64) for n in self.names], axis=1)
        return ((x - np.array(self.mean)) / np.array(self.scale)) @ np.array(self.weights) + self.bias

    def with_threshold(self, threshold: float) -> Combiner:
        return Combiner(self.names, self.mean, self.scale, self.weights, self.bias, float(threshold))

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "bias": self.bias, "threshold": self.threshold}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Combiner:
        names = tuple(str(n) for n in obj["names"])
        unknown = set(names) - set(SCORE_NAMES)
        if unknown:
            raise ModelError(f"the open-set rule reads signals this version lacks ({sorted(unknown)}); "
                             "re-run 'butterflyer fit-serving' or upgrade butterflyer")
        vectors = [tuple(float(v) for v in obj[key]) for key in ("mean", "scale", "weights")]
        if any(len(v) != len(names) for v in vectors):
            raise ModelError("the open-set rule's weights do not match its signals; "
                             "re-run 'butterflyer fit-serving'")
        return cls(names, vectors[0], vectors[1], vectors[2], float(obj["bias"]), float(obj["threshold"]))


def label_groups(n_labels: int, groups: int, seed: int = 0) -> list[list[int]]:
    """The labels in ``groups`` random groups of (nearly) equal size, fixed by ``seed``."""
    if groups < 2 or n_labels < groups:
        raise ModelError(f"cannot hide labels in {groups} groups with {n_labels} labels; "
                         "the open-set rule needs at least two labels per run")
    order = np.random.default_rng(seed).permutation(n_labels)
    return [sorted(int(i) for i in order[g::groups]) for g in range(groups)]


def simulated_unknowns(sbank: ScoreBank, probs: np.ndarray, sims: np.ndarray, targets: np.ndarray,
                       groups: int = DEFAULT_GROUPS, seed: int = 0,
                       names: Sequence[str] = SCORE_NAMES) -> tuple[np.ndarray, np.ndarray]:
    """``(X, is_unknown)``: signals of every validation photo under each group's hiding."""
    targets = np.asarray(targets)
    xs, ys = [], []
    for hidden in label_groups(probs.shape[1], groups, seed):
        p, s = hide(probs, sims, sbank.labels, hidden)
        scores = candidate_scores(sbank, p, s, names=names)
        xs.append(np.stack([scores[n] for n in names], axis=1))
        ys.append(np.isin(targets, hidden))
    return np.concatenate(xs), np.concatenate(ys)


def fit_combiner(x: np.ndarray, unknown: np.ndarray, names: Sequence[str] = SCORE_NAMES,
                 strength: float = 1.0) -> Combiner:
    """Logistic regression (balanced classes, L2 ``1/strength``) on standardised signals; threshold 0."""
    from sklearn.linear_model import LogisticRegression

    if unknown.all() or not unknown.any():
        raise ModelError("the simulated unknowns need both known and hidden photos; "
                         "give more validation photos per label")
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    model = LogisticRegression(C=strength, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, unknown.astype(int))
    return Combiner(tuple(names), tuple(mean.tolist()), tuple(scale.tolist()),
                    tuple(model.coef_[0].tolist()), float(model.intercept_[0]), 0.0)


def threshold_for_loss(logits: np.ndarray, species_right: np.ndarray, max_loss: float) -> float:
    """The lowest log-odds threshold that takes away at most ``max_loss`` (a fraction of all photos)
    of the correct species answers ``species_right`` (photos at or over it are called unknown)."""
    allowed = int(np.floor(max_loss * len(logits) + 1e-9))
    scores = np.sort(np.asarray(logits)[np.asarray(species_right, dtype=bool)])[::-1]
    if allowed >= len(scores):  # every photo may be called unknown (a finite value: JSON has no infinity)
        return float(min(float(np.min(logits)) if len(logits) else 0.0, 0.0) - 1.0)
    # the allowed highest are flagged; the next one just stays under the threshold
    return float(np.nextafter(scores[allowed], np.inf))


def fit_learned(sbank: ScoreBank, probs: np.ndarray, sims: np.ndarray, targets: np.ndarray,
                species_threshold: float, max_species_loss: float = DEFAULT_MAX_SPECIES_LOSS,
                groups: int = DEFAULT_GROUPS, seed: int = 0,
                names: Sequence[str] = SCORE_NAMES) -> tuple[Combiner, dict[str, Any]]:
    """The combiner from validation photos (simulated unknowns), with its threshold set by
    ``max_species_loss``; returns it and a small report."""
    x, unknown = simulated_unknowns(sbank, probs, sims, targets, groups, seed, names)
    combiner = fit_combiner(x, unknown, names)
    scores = candidate_scores(sbank, probs, sims, names=names)
    logits = combiner.logit(scores)
    right = (np.argmax(probs, axis=1) == np.asarray(targets)) & (np.max(probs, axis=1) >= species_threshold)
    threshold = threshold_for_loss(logits, right, max_species_loss)
    sim_logits = combiner.logit(dict(zip(names, x.T, strict=True)))
    report = {"groups": groups, "simulated_photos": int(len(unknown)),
              "simulated_unknown": int(unknown.sum()),
              "simulated_unknown_flagged": float(np.mean(sim_logits[unknown] >= threshold)),
              "simulated_known_flagged": float(np.mean(sim_logits[~unknown] >= threshold)),
              "max_species_loss": max_species_loss}
    return combiner.with_threshold(threshold), report
