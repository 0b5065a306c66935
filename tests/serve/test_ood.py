"""The not-a-butterfly gate: class-mass fallback and the fitted profile."""

from __future__ import annotations

import numpy as np

from butterflyer.serve.ood import GateProfile, OodGate, choose_threshold, fit_profile, profile_features
from butterflyer.serve.session import softmax


def _probs(peaks: dict[int, float], noise: float = 0.0, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(0, noise, 1000)
    for k, v in peaks.items():
        logits[k] += v
    return softmax(logits[None])[0]


def test_mass_gate_passes_butterflies_and_rejects_coffee() -> None:
    gate = OodGate()
    assert gate.decide(_probs({323: 10.0})).passed
    assert not gate.decide(_probs({967: 10.0})).passed


def test_profile_gate_accepts_moth_like_answers_without_butterfly_mass() -> None:
    # "moths": ImageNet answers that peak on isopod (126) and king crab (121), never on butterflies
    moths = np.stack([_probs({126: 6.0, 121: 5.0}, noise=0.5, seed=s) for s in range(20)])
    butterflies = np.stack([_probs({323: 6.0, 321: 4.0}, noise=0.5, seed=s) for s in range(20, 40)])
    train = np.concatenate([moths[:10], butterflies[:10]])
    targets = np.array([0] * 10 + [1] * 10)
    cents = fit_profile(train, targets)
    held_out = np.concatenate([moths[10:], butterflies[10:]])
    threshold = choose_threshold(GateProfile(cents, 0.0).similarity(held_out))
    gate = OodGate(GateProfile(cents, threshold))
    assert all(gate.decide(p).passed for p in held_out)
    for other in ({967: 8.0}, {504: 7.0, 508: 5.0}, {281: 9.0}):  # espresso, coffee mug/keyboard, tabby cat
        assert not gate.decide(_probs(other, noise=0.5, seed=99)).passed


def test_profile_round_trips_through_json() -> None:
    cents = fit_profile(np.stack([_probs({i: 5.0}) for i in range(3)]), np.arange(3))
    profile = GateProfile(cents, 0.42)
    back = GateProfile.from_json(profile.to_json())
    assert back.threshold == 0.42
    x = _probs({1: 5.0})
    assert abs(back.similarity(x)[0] - profile.similarity(x)[0]) < 1e-3


def test_features_are_unit_length() -> None:
    f = profile_features(np.stack([_probs({3: 2.0}), _probs({9: 7.0})]))
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0)
