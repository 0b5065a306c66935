"""Sentence-ranking weights: the planner's score is a weighted sum of per-sentence features.

``RULES`` holds the hand-set weights the planner uses; :func:`fit` learns weights
from questions whose answer sentences are known, by a listwise softmax over each question's
candidate sentences (maximise the probability of the sentences that state an expected fact).
The retrieval score's weight is fixed at 1, so a learned score stays on the same scale as the
margins the planner compares scores with (``WHY_MARGIN``, the runner-up gap).

Learned weights did not beat the hand-set ones in leave-one-file-out cross-validation over
the dev question files (``benchmarks/fit_chat_ranker.py``), so the planner keeps ``RULES``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# per-sentence features, in the order of a feature row (see Planner.features)
FEATURES = (
    "retrieval",   # the chunk's fused retrieval score (dense + BM25 + section bonus)
    "lex",         # IDF share of the question's residual words found in the sentence
    "sem",         # MiniLM cosine of question and sentence
    "cue",         # a tell-tale word of the asked section, in a sentence of another section
    "number",      # "how many / long / far" and the sentence states a quantity
    "ask",         # the sentence is of the kind asked (a reason for "why", a name, ...)
    "relation",    # a relation is asked and the sentence ties the entry to another species
    "in_section",  # the sentence's section is one the question asks for
    "lex_content", # IDF share of the question's content words (section cues left out)
    "picked",      # the sentence stands clearly above all others by meaning (Query.pick)
    "first",       # the first sentence of its chunk
    "generic",     # an overview or facts sentence
    "topic",       # a sentence of a general topic page
)
RULES = {"retrieval": 1.0, "lex": 0.06, "sem": 0.05, "cue": 0.02, "number": 0.03, "ask": 0.06,
         "relation": 0.06}


@dataclass(frozen=True)
class Ranker:
    """Linear sentence scorer: ``score = features @ weights``."""

    weights: np.ndarray

    @classmethod
    def from_dict(cls, weights: dict[str, float]) -> Ranker:
        unknown = sorted(set(weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown ranking feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
        return cls(np.array([float(weights.get(f, 0.0)) for f in FEATURES]))

    def as_dict(self) -> dict[str, float]:
        return {f: round(float(w), 6) for f, w in zip(FEATURES, self.weights, strict=True)}

    def score(self, rows: np.ndarray) -> np.ndarray:
        """Scores of a ``(n, len(FEATURES))`` feature matrix."""
        return rows @ self.weights if len(rows) else np.zeros(0)


def rules() -> Ranker:
    """The hand-set weights."""
    return Ranker.from_dict(RULES)


def load(path: str | Path) -> Ranker:
    """Weights stored by :func:`save` (``{"weights": {feature: weight}}``)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Ranker.from_dict(data["weights"])


def save(ranker: Ranker, path: str | Path, meta: dict[str, object] | None = None) -> None:
    """Write the weights (and what they were fitted on) as JSON."""
    body = {"weights": ranker.as_dict(), **({"fitted_on": meta} if meta else {})}
    Path(path).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Group:
    """One question's candidate sentences: a feature row each, and which ones state an answer."""

    rows: np.ndarray
    good: np.ndarray  # bool per row


def _loss(theta: np.ndarray, groups: Sequence[Group], l2: float) -> tuple[float, np.ndarray]:
    """Mean listwise softmax loss (-log of the probability mass on good rows) and its gradient;
    L2 on every weight but the retrieval score's."""
    total, grad = 0.0, np.zeros_like(theta)
    for g in groups:
        s = g.rows @ theta
        s = s - s.max()
        p = np.exp(s)
        p /= p.sum()
        pg = p[g.good].sum()
        total -= np.log(max(pg, 1e-300))
        q = np.where(g.good, p / max(pg, 1e-300), 0.0)  # the distribution restricted to good rows
        grad -= g.rows.T @ (q - p)
    n = max(1, len(groups))
    reg = theta.copy()
    reg[0] = 0.0
    return total / n + l2 * float(reg @ reg), grad / n + 2 * l2 * reg


def fit(groups: Sequence[Group], l2: float = 1e-3) -> Ranker:
    """Weights that rank each group's good rows first (listwise softmax, L-BFGS), rescaled so that
    the retrieval score weighs 1. Groups with no good row, or only good rows, teach nothing and are
    skipped."""
    from scipy.optimize import minimize

    useful = [g for g in groups if g.good.any() and not g.good.all()]
    if not useful:
        raise ValueError("no question has both an answering and a non-answering candidate sentence")
    theta0 = rules().weights / 0.02  # start at the hand weights, scored on a softmax-friendly scale
    res = minimize(_loss, theta0, args=(useful, l2), jac=True, method="L-BFGS-B")
    theta = res.x
    if theta[0] <= 0:
        raise ValueError("the fitted retrieval weight is not positive; the weights cannot be rescaled")
    return Ranker(theta / theta[0])
