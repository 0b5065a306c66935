"""Sentence-ranking weights: the hand-set rules, fitting, storage."""

from __future__ import annotations

import numpy as np
import pytest

from butterflyer.chat.rank import FEATURES, RULES, Group, Ranker, fit, load, rules, save


def _row(**values: float) -> list[float]:
    return [values.get(f, 0.0) for f in FEATURES]


def test_rules_hold_the_hand_set_weights() -> None:
    r = rules()
    assert r.as_dict()["retrieval"] == 1.0
    assert all(r.as_dict()[f] == w for f, w in RULES.items())
    assert r.score(np.array([_row(retrieval=0.1, lex=1.0)]))[0] == pytest.approx(0.1 + RULES["lex"])


def test_unknown_feature_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown ranking feature"):
        Ranker.from_dict({"colour": 1.0})


def test_fit_recovers_a_known_ranking() -> None:
    """Half the questions are answered by the sentence of the asked kind ('ask'), whose retrieval
    score is often lower; the other half by the better-retrieved sentence. The fit must rank every
    answer first: 'ask' above the retrieval gap, retrieval otherwise."""
    rng = np.random.default_rng(0)
    groups = []
    for i in range(80):
        if i % 2:
            good = _row(retrieval=rng.uniform(0.02, 0.05), ask=1.0)
            bad = [_row(retrieval=rng.uniform(0.03, 0.07), lex=rng.uniform(0, 1)) for _ in range(2)]
        else:
            good = _row(retrieval=rng.uniform(0.06, 0.08), first=float(rng.integers(0, 2)))
            bad = [_row(retrieval=rng.uniform(0.02, 0.05), first=float(rng.integers(0, 2))) for _ in range(2)]
        groups.append(Group(np.array([good, *bad]), np.array([True, False, False])))
    ranker = fit(groups, l2=1e-4)
    assert ranker.as_dict()["retrieval"] == 1.0
    assert ranker.as_dict()["ask"] > 0.05
    assert all(int(np.argmax(ranker.score(g.rows))) == 0 for g in groups)


def test_fit_needs_a_contrast() -> None:
    with pytest.raises(ValueError, match="no question"):
        fit([Group(np.array([_row(retrieval=0.1)]), np.array([True]))])


def test_weights_round_trip(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "ranker.json"
    save(rules(), path, {"files": ["x.yaml"]})
    assert load(path).as_dict() == rules().as_dict()
