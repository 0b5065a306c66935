"""The not-a-butterfly gate (out-of-distribution check): one rule over three possible signals.

Models exported by this project give their pooled features, and the gate reads
those (:mod:`butterflyer.serve.ood_neighbours`: nearest training photos in the
model's own feature space). This module holds the older signal, still used for
exports without a ``features`` output: the backbone's ImageNet head.

ImageNet has six butterfly classes (321 admiral, 322 ringlet, 323 monarch,
324 cabbage butterfly, 325 sulphur butterfly, 326 lycaenid) and no moth class.
Measured on butterflies-100 with the pretrained EfficientNet-Lite0, a moth photo
spreads its ImageNet probability over look-alikes (an oleander hawk moth reads
as isopod, artichoke or chameleon; an atlas moth as king crab or starfish) and
keeps almost no butterfly mass, as little as a photo of a person. So the mass on
the butterfly classes alone would turn many moths away.

The gate therefore reads the *shape* of the whole ImageNet answer: the centred
log-probability vector of a photo is compared (cosine) with each species'
average vector, measured on training photos (:class:`GateProfile`, fitted by
``butterflyer.serve.fit``). A moth's answer looks like other photos of that moth
even when no class name fits. A photo passes when its best similarity reaches
the fitted threshold, or when the butterfly classes alone hold ``butterfly_mass``.

Measured once (Nov 2026, pretrained Lite0 backbone, profile from 30 training
photos per species, threshold 0.468 from the validation split): 1 of 492 test
photos rejected (a giant leopard moth), all 20 scikit-image sample photos
rejected; the closest of those, a stained tissue slide, scored 0.43. Re-measure
with ``butterflyer fit-serving MODEL --measure-split test``.

Without a fitted gate the rule falls back to the mass on the Lepidoptera-like
classes (butterflies plus the other insects 300-320) with a low default bar,
which lets more non-butterflies through; fit a profile for real use.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from butterflyer.serve.ood_neighbours import KIND as NEIGHBOURS_KIND
from butterflyer.serve.ood_neighbours import NeighbourGate

BUTTERFLY_CLASSES: tuple[int, ...] = (321, 322, 323, 324, 325, 326)
INSECT_CLASSES: tuple[int, ...] = tuple(range(300, 321))
LEPIDOPTERA_LIKE: tuple[int, ...] = BUTTERFLY_CLASSES + INSECT_CLASSES
DEFAULT_MASS_THRESHOLD = 0.02
DEFAULT_BUTTERFLY_MASS = 0.25


def class_mass(imagenet_probs: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """Probability mass on ``classes`` for each row of ImageNet probabilities ``(N, 1000)``."""
    probs = np.atleast_2d(np.asarray(imagenet_probs, dtype=np.float64))
    return probs[:, list(classes)].sum(axis=1)


def profile_features(imagenet_probs: np.ndarray) -> np.ndarray:
    """Unit-length, centred log-probabilities ``(N, 1000)``: the shape of each ImageNet answer."""
    logp = np.log(np.clip(np.atleast_2d(np.asarray(imagenet_probs, dtype=np.float64)), 1e-8, 1.0))
    logp -= logp.mean(axis=1, keepdims=True)
    return logp / np.maximum(np.linalg.norm(logp, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class GateProfile:
    """Per-species mean ImageNet answers ``(K, 1000)`` and the similarity bar."""

    centroids: np.ndarray
    threshold: float
    butterfly_mass: float = DEFAULT_BUTTERFLY_MASS

    def similarity(self, imagenet_probs: np.ndarray) -> np.ndarray:
        """Best cosine similarity to any species profile, per row."""
        return (profile_features(imagenet_probs) @ self.centroids.T).max(axis=1)

    def to_json(self) -> dict[str, Any]:
        """Compact JSON (float16, base64) small enough for ``meta.json``."""
        data = np.ascontiguousarray(self.centroids.astype(np.float16))
        return {"kind": "imagenet_profile", "threshold": round(float(self.threshold), 4),
                "butterfly_mass": self.butterfly_mass, "shape": list(data.shape),
                "centroids_f16_b64": base64.b64encode(data.tobytes()).decode("ascii")}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> GateProfile:
        raw = base64.b64decode(obj["centroids_f16_b64"])
        centroids = np.frombuffer(raw, dtype=np.float16).reshape(obj["shape"]).astype(np.float64)
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        mass = float(obj.get("butterfly_mass", DEFAULT_BUTTERFLY_MASS))
        return cls(centroids, float(obj["threshold"]), mass)


def fit_profile(imagenet_probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Unit-length mean profile per class index present in ``targets`` (absent classes are skipped)."""
    feats = profile_features(imagenet_probs)
    targets = np.asarray(targets)
    rows = [feats[targets == k].mean(axis=0) for k in np.unique(targets)]
    cents = np.stack(rows)
    return cents / np.maximum(np.linalg.norm(cents, axis=1, keepdims=True), 1e-12)


def choose_threshold(similarities: np.ndarray, max_false_reject: float = 0.01, margin: float = 0.95) -> float:
    """The ``max_false_reject`` quantile of held-out butterfly similarities, lowered by ``margin``.

    Only butterfly photos are used: tuning to a set of non-butterflies would
    overfit to it. The margin leaves room for photos less typical than the
    dataset's.
    """
    return float(np.quantile(np.asarray(similarities, dtype=np.float64), max_false_reject) * margin)


@dataclass(frozen=True)
class OodDecision:
    passed: bool
    score: float
    threshold: float


class OodGate:
    """Decides butterfly or not: neighbour gate on features if fitted, else ImageNet profile, else mass."""

    def __init__(self, profile: GateProfile | None = None, mass_threshold: float = DEFAULT_MASS_THRESHOLD,
                 threshold_override: float | None = None, neighbours: NeighbourGate | None = None) -> None:
        self.profile = profile
        self.neighbours = neighbours
        self.mass_threshold = mass_threshold
        self.override = threshold_override

    @property
    def kind(self) -> str:
        if self.neighbours is not None:
            return NEIGHBOURS_KIND
        return "imagenet_profile" if self.profile is not None else "lepidoptera_mass"

    @property
    def threshold(self) -> float:
        if self.override is not None:
            return self.override
        if self.neighbours is not None:
            return self.neighbours.threshold
        return self.profile.threshold if self.profile is not None else self.mass_threshold

    def decide(self, imagenet_probs: np.ndarray | None, features: np.ndarray | None = None,
               cosines: np.ndarray | None = None) -> OodDecision | None:
        """Gate one image from its ImageNet probabilities ``(1000,)`` and/or features ``(D,)``.

        ``cosines``: the features' similarities to the neighbour bank when the caller already has them
        (the open-set rule reads the same ones). ``None`` when the model does not give the output this
        gate reads (no gate applies).
        """
        if self.neighbours is not None:
            if features is None:
                return None
            row = self.neighbours.cosines(features) if cosines is None else cosines
            score = float(self.neighbours.kth(row)[0])
            return OodDecision(score >= self.threshold, score, self.threshold)
        if imagenet_probs is None:
            return None
        if self.profile is None:
            score = float(class_mass(imagenet_probs, LEPIDOPTERA_LIKE)[0])
            return OodDecision(score >= self.threshold, score, self.threshold)
        score = float(self.profile.similarity(imagenet_probs)[0])
        strong = float(class_mass(imagenet_probs, BUTTERFLY_CLASSES)[0]) >= self.profile.butterfly_mass
        return OodDecision(strong or score >= self.threshold, score, self.threshold)

    @classmethod
    def from_meta_extra(cls, extra: dict[str, Any], threshold_override: float | None = None,
                        folder: str | Path | None = None) -> OodGate:
        """The gate stored in ``meta.extra["serving"]["gate"]`` (a bank file is read from ``folder``)."""
        stored = (extra.get("serving") or {}).get("gate")
        if stored and stored.get("kind") == NEIGHBOURS_KIND:
            neighbours = NeighbourGate.from_json(stored, folder)
            return cls(threshold_override=threshold_override, neighbours=neighbours)
        profile = GateProfile.from_json(stored) if stored and "centroids_f16_b64" in stored else None
        return cls(profile, threshold_override=threshold_override)
