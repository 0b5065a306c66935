"""Per-photo signals that tell a known species from one the model was never taught.

Every signal is computed from what serving already holds for a photo: its calibrated
species probabilities and the cosine similarities of its pooled features to the
labelled feature bank. All are oriented so that a *higher* value means "looks like a
species the model knows":

- ``top_prob``: the highest probability; ``margin``: it minus the second highest;
- ``neg_entropy``: minus the entropy of the probabilities;
- ``genus_mass``: probability mass of the predicted species' genus (its own mass when the
  label has no genus);
- ``species_sim``: mean of the ``top`` highest similarities to the predicted species' rows;
- ``nearest_sim``: the highest similarity to any bank row;
- ``sim_margin``: ``species_sim`` minus the same quantity for the closest *other* species;
- ``knn_agree``: share of the ``k`` nearest rows that carry the predicted label;
- ``knn_genus_agree``: share of them whose label shares the predicted species' genus.

Energy and max-logit scores are left out: the served model gives calibrated
probabilities, not logits, and the log-sum-exp is lost in the softmax.

The functions are vectorised over photos, so the benchmark and the served decision use
the same code; ``keep_labels`` / ``keep_rows`` hide labels and bank rows, which is how
unknown species are simulated from known ones (:mod:`~butterflyer.serve.openset_learn`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SCORE_NAMES = ("top_prob", "margin", "neg_entropy", "genus_mass", "species_sim", "nearest_sim",
               "sim_margin", "knn_agree", "knn_genus_agree")
DEFAULT_K = 10


class ScoreBank:
    """The bank's rows grouped per label in a padded index, built once per model."""

    def __init__(self, labels: np.ndarray, genera: Sequence[str | None]) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.n_labels = len(genera)
        counts = np.bincount(self.labels, minlength=self.n_labels)
        width = max(int(counts.max()) if len(counts) else 0, 1)
        self.padded = np.full((self.n_labels, width), -1, dtype=np.int64)
        for label in range(self.n_labels):
            rows = np.flatnonzero(self.labels == label)
            self.padded[label, : len(rows)] = rows
        # a label without a genus is its own group, so agreement falls back to the label
        names = [g if g else f"\0label{i}" for i, g in enumerate(genera)]
        codes = {name: i for i, name in enumerate(dict.fromkeys(names))}
        self.genus_of_label = np.array([codes[n] for n in names], dtype=np.int64)
        self.same_genus = self.genus_of_label[:, None] == self.genus_of_label[None, :]


def class_top_means(sbank: ScoreBank, sims: np.ndarray, top: int) -> np.ndarray:
    """``(N, C)``: mean of the ``top`` highest similarities to each label's rows (-1 without rows).

    Hidden rows carry ``-inf`` in ``sims`` and count as absent.
    """
    gathered = np.where(sbank.padded[None] >= 0, sims[:, np.maximum(sbank.padded, 0)], -np.inf)
    k = min(top, gathered.shape[2])
    best = -np.sort(-gathered, axis=2)[:, :, :k]
    finite = np.isfinite(best)
    count = finite.sum(axis=2)
    total = np.where(finite, best, 0.0).sum(axis=2)
    return np.where(count > 0, total / np.maximum(count, 1), -1.0)


def candidate_scores(sbank: ScoreBank, probs: np.ndarray, sims: np.ndarray, top: int = 3,
                     k: int = DEFAULT_K, names: Sequence[str] = SCORE_NAMES) -> dict[str, np.ndarray]:
    """The signals ``names`` (default: all of :data:`SCORE_NAMES`) for photos with ``probs (N, C)``
    and ``sims (N, R)``; the similarity signals are skipped when none of them is asked for."""
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    rows = np.arange(n)
    order = np.argsort(-probs, axis=1)
    best = order[:, 0]
    p1 = probs[rows, best]
    p2 = probs[rows, order[:, 1]] if probs.shape[1] > 1 else np.zeros(n)
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    out = {"top_prob": p1, "margin": p1 - p2, "neg_entropy": -entropy,
           "genus_mass": (probs * sbank.same_genus[best]).sum(axis=1)}
    wanted = set(names)
    if wanted & {"species_sim", "sim_margin"}:
        sims = np.asarray(sims, dtype=np.float64)
        means = class_top_means(sbank, sims, top)
        species_sim = means[rows, best]
        others = means.copy()
        others[rows, best] = -np.inf
        other_best = others.max(axis=1) if means.shape[1] > 1 else np.full(n, -1.0)
        other_best = np.where(np.isfinite(other_best), other_best, -1.0)
        out.update(species_sim=species_sim, sim_margin=species_sim - other_best)
    if wanted & {"nearest_sim", "knn_agree", "knn_genus_agree"}:
        sims = np.asarray(sims, dtype=np.float64)
        kk = max(1, min(k, sims.shape[1]))
        nearest = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        near_sims = np.take_along_axis(sims, nearest, axis=1)
        valid = np.isfinite(near_sims)
        seen = np.maximum(valid.sum(axis=1), 1)
        near_labels = sbank.labels[nearest]
        same_genus = sbank.genus_of_label[near_labels] == sbank.genus_of_label[best][:, None]
        out.update(
            nearest_sim=np.where(valid.any(axis=1), np.where(valid, near_sims, -np.inf).max(axis=1), -1.0),
            knn_agree=((near_labels == best[:, None]) & valid).sum(axis=1) / seen,
            knn_genus_agree=(same_genus & valid).sum(axis=1) / seen,
        )
    return {name: out[name] for name in names}


def hide(probs: np.ndarray, sims: np.ndarray, bank_labels: np.ndarray,
         hidden: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and similarities as a model without the ``hidden`` labels would see them:
    their probability is dropped (the rest renormalised, which is what a softmax over the
    remaining logits gives) and their bank rows are taken away."""
    keep = np.ones(probs.shape[1], dtype=bool)
    keep[list(hidden)] = False
    p = np.where(keep[None], probs, 0.0)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    s = np.where(keep[bank_labels][None], sims, -np.inf)
    return p, s
