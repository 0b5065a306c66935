"""Open-set honesty: a species is named only when the photo looks like that species' own photos.

The model knows 100 species; most butterflies and moths in the wild are others.
A softmax always spreads its mass over the known labels, so an unknown swallowtail
is "named" as the nearest known one with high probability. The pooled features
carry more: an unknown species sits further from its predicted class's training
photos than that class's own photos do.

Each photo gets three similarities against the feature bank of training photos
(the bank of the not-a-butterfly gate, whose rows now carry their label):

- ``species``: mean of the ``top`` highest cosine similarities to photos of the
  predicted species;
- ``genus`` and ``family``: the same over all photos of the genus (family) that
  holds the most probability.

The decision (:meth:`OpenSetRule.decide`), after the not-a-butterfly gate:

1. species, when the calibrated probability reaches the species threshold *and*
   the species similarity reaches ``species_similarity``;
2. else genus, when the genus' probability mass reaches the genus threshold and
   its similarity reaches ``genus_similarity``; else family likewise;
3. else ``unknown_species`` when the photo is far from every known species
   (species similarity under the bar), or ``uncertain`` when it is close to a known
   species that the model cannot pick.

``known_species`` in the answer is ``species similarity >= species_similarity`` (and, for
the learned rule below, its score under the threshold).
Since a genus holds its species' photos, the genus similarity is never below the
species one (nor the family's below the genus'): the bars roll an answer up, never
sideways. The bars are fitted by :func:`fit_openset`
on held-out *labels* (leave-species-out), never on the photos they are measured on.

A rule of kind ``learned_unknown`` (:data:`LEARNED_KIND`) replaces the species bar by a
learned score (:mod:`~butterflyer.serve.openset_learn`): a logistic regression over
several signals (:mod:`~butterflyer.serve.openset_scores`) calls the photo "known" or
"unknown"; an unknown photo rolls up through the same genus and family bars, else gets
``unknown_species``. Rules of the older kind still load and decide as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from butterflyer.errors import ModelError
from butterflyer.serve.openset_learn import (
    DEFAULT_GROUPS,
    DEFAULT_MAX_SPECIES_LOSS,
    DEFAULT_SIGNALS,
    Combiner,
    fit_learned,
)
from butterflyer.serve.openset_scores import ScoreBank, candidate_scores
from butterflyer.serve.rollup import RollUp, Thresholds, group_probabilities

KIND = "class_neighbours"
LEARNED_KIND = "learned_unknown"
DEFAULT_TOP = 3


@dataclass(frozen=True)
class OpenSetRule:
    """Similarity bars for naming a species, a genus and a family (``-1`` turns a bar off), and
    optionally the learned unknown-species score that decides "known" instead of the species bar."""

    species_similarity: float
    genus_similarity: float = -1.0
    family_similarity: float = -1.0
    top: int = DEFAULT_TOP
    fitted: dict[str, Any] = field(default_factory=dict, compare=False)
    combiner: Combiner | None = None

    @property
    def kind(self) -> str:
        return KIND if self.combiner is None else LEARNED_KIND

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = self.kind
        del out["combiner"]  # asdict would flatten it; the older kind's stored form stays as it was
        if self.combiner is not None:
            out["combiner"] = self.combiner.to_json()
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> OpenSetRule:
        kind = obj.get("kind")
        if kind not in (KIND, LEARNED_KIND):
            raise ModelError(f"unknown open-set rule kind {kind!r}; re-run 'butterflyer fit-serving'")
        if kind == LEARNED_KIND and not obj.get("combiner"):
            raise ModelError("the learned open-set rule has no stored weights; "
                             "re-run 'butterflyer fit-serving'")
        return cls(
            species_similarity=float(obj["species_similarity"]),
            genus_similarity=float(obj.get("genus_similarity", -1.0)),
            family_similarity=float(obj.get("family_similarity", -1.0)),
            top=int(obj.get("top", DEFAULT_TOP)),
            fitted=dict(obj.get("fitted") or {}),
            combiner=Combiner.from_json(obj["combiner"]) if kind == LEARNED_KIND else None,
        )


@dataclass(frozen=True)
class OpenSetVerdict:
    """The roll-up and what the features say about the photo."""

    roll: RollUp
    known_species: bool
    species_similarity: float
    relatives: tuple[int, ...]


class LabelledBank:
    """Unit feature rows with the label index of each, grouped by species, genus and family."""

    def __init__(
        self,
        bank: np.ndarray,
        labels: np.ndarray,
        genera: Sequence[str | None],
        families: Sequence[str | None],
    ) -> None:
        if len(bank) != len(labels):
            raise ModelError(
                "the feature bank and its labels differ in length; re-run 'butterflyer fit-serving'"
            )
        self.bank = np.asarray(bank, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(genera)):
            raise ModelError(
                "the feature bank names labels the model does not have; re-run 'butterflyer fit-serving'"
            )
        self.genera, self.families = list(genera), list(families)
        self.rows_of_label = {int(c): np.flatnonzero(self.labels == c) for c in np.unique(self.labels)}
        self.rows_of_group: dict[tuple[str, str], np.ndarray] = {}
        for rank, names in (("genus", self.genera), ("family", self.families)):
            for name in {n for n in names if n}:
                members = [i for i, n in enumerate(names) if n == name]
                self.rows_of_group[(rank, name)] = np.flatnonzero(np.isin(self.labels, members))
        self.scores = ScoreBank(self.labels, self.genera)

    def top_mean(self, sims: np.ndarray, rows: np.ndarray | None, top: int) -> float:
        """Mean of the ``top`` highest similarities among ``rows`` (-1 when there are none)."""
        if rows is None or len(rows) == 0:
            return -1.0
        picked = sims[rows]
        k = min(top, len(picked))
        return float(np.partition(picked, -k)[-k:].mean())

    def nearest_labels(self, sims: np.ndarray, count: int, look: int = 64) -> tuple[int, ...]:
        """Distinct labels of the nearest bank rows, closest first, at most ``count`` (among the ``look``
        nearest rows: sorting the whole bank for every photo is not needed)."""
        out: list[int] = []
        look = min(look, len(sims))
        nearest = np.argpartition(-sims, look - 1)[:look] if look else np.empty(0, dtype=np.int64)
        for row in nearest[np.argsort(-sims[nearest])]:
            label = int(self.labels[row])
            if label not in out:
                out.append(label)
                if len(out) == count:
                    break
        return tuple(out)


def _unit(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float32).reshape(-1)
    return x / max(float(np.linalg.norm(x)), 1e-12)


def decide(
    rule: OpenSetRule,
    bank: LabelledBank,
    probs: np.ndarray,
    features: np.ndarray,
    thresholds: Thresholds,
    relatives: int = 3,
    sims: np.ndarray | None = None,
) -> OpenSetVerdict:
    """One photo's answer from calibrated ``probs`` and pooled ``features`` (module docstring).

    ``sims``: the features' cosine similarities to the bank rows, when the caller (the gate) already
    computed them.
    """
    if sims is None:
        x = _unit(features)
        if x.shape[0] != bank.bank.shape[1]:
            raise ModelError(
                f"the model gives {x.shape[0]} features but the bank holds {bank.bank.shape[1]}; "
                "re-run 'butterflyer fit-serving' for this model"
            )
        sims = bank.bank @ x
    best = int(np.argmax(probs))
    top = float(probs[best])
    species_sim = bank.top_mean(sims, bank.rows_of_label.get(best), rule.top)
    known = species_sim >= rule.species_similarity
    if rule.combiner is not None:
        scores = candidate_scores(bank.scores, np.asarray(probs)[None], np.asarray(sims)[None], rule.top,
                                  names=rule.combiner.names)
        known = known and bool(rule.combiner.logit(scores)[0] < rule.combiner.threshold)
    near = bank.nearest_labels(sims, relatives)
    if top >= thresholds.species and known:
        return OpenSetVerdict(RollUp("species", best, "species", None, top), True, species_sim, near)
    for rank, groups, need, bar in (
        ("genus", bank.genera, thresholds.genus, rule.genus_similarity),
        ("family", bank.families, thresholds.family, rule.family_similarity),
    ):
        sums = group_probabilities(probs, groups)
        if not sums:
            continue
        name, mass = max(sums.items(), key=lambda kv: kv[1])
        if mass >= need and bank.top_mean(sims, bank.rows_of_group.get((rank, name)), rule.top) >= bar:
            return OpenSetVerdict(RollUp(rank, None, rank, name, float(mass)), known, species_sim, near)
    verdict = "uncertain" if known else "unknown_species"
    return OpenSetVerdict(RollUp(verdict, None, None, None, top), known, species_sim, near)


# -- fitting ----------------------------------------------------------------------------------------

# the levels chosen by benchmarks/bench_openset.py on the tuning group of held-out labels
DEFAULT_QUANTILES = {"species": 0.02, "genus": 0.10, "family": 0.50}
# the genus and family bar levels of the learned rule, chosen likewise
LEARNED_QUANTILES = {"genus": 0.60, "family": 0.50}


def held_out_similarity(
    bank: LabelledBank, sims: np.ndarray, label: int, rank: str, top: int
) -> float | None:
    """Similarity of a photo of ``label`` to the rest of its genus (family) with its own species
    (genus) taken out of the bank: what an unknown relative of the known species would score.
    ``None`` when nothing of the group is left."""
    names = bank.genera if rank == "genus" else bank.families
    name = names[label]
    if not name:
        return None
    drop = (
        [label]
        if rank == "genus"
        else [i for i, g in enumerate(bank.genera) if g and g == bank.genera[label]]
    )
    if rank == "family" and not bank.genera[label]:
        drop = [label]
    rows = bank.rows_of_group.get((rank, name), np.empty(0, dtype=np.int64))
    rows = rows[~np.isin(bank.labels[rows], drop)]
    if len(rows) == 0:
        return None
    return bank.top_mean(sims, rows, top)


def openset_similarities(bank: LabelledBank, features: np.ndarray, targets: np.ndarray,
                         top: int = DEFAULT_TOP) -> dict[str, list[float]]:
    """Per known photo: similarity to its own species, and to the rest of its genus and family with
    its own species (genus) taken out (what an unknown relative would score)."""
    x = np.asarray(features, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    out: dict[str, list[float]] = {"species": [], "genus": [], "family": []}
    for row, label in zip(x, np.asarray(targets).tolist(), strict=True):
        sims = bank.bank @ row
        out["species"].append(bank.top_mean(sims, bank.rows_of_label.get(int(label)), top))
        for rank in ("genus", "family"):
            value = held_out_similarity(bank, sims, int(label), rank, top)
            if value is not None:
                out[rank].append(value)
    return out


def rule_from_similarities(values: dict[str, list[float]], quantiles: dict[str, float] | None = None,
                           top: int = DEFAULT_TOP) -> OpenSetRule:
    """Bars at the quantile levels (a negative level turns that bar off)."""
    q = {**DEFAULT_QUANTILES, **(quantiles or {})}
    if not values["species"]:
        raise ModelError("no validation photos to fit the open-set rule on")

    def bar(rank: str) -> float:
        data = values[rank]
        return float(np.quantile(data, q[rank])) if data and q[rank] >= 0 else -1.0

    fitted = {"quantiles": q, "photos": len(values["species"]), "genus_photos": len(values["genus"]),
              "family_photos": len(values["family"])}
    return OpenSetRule(species_similarity=bar("species"), genus_similarity=bar("genus"),
                       family_similarity=bar("family"), top=top, fitted=fitted)


def fit_openset(bank: LabelledBank, features: np.ndarray, targets: np.ndarray,
                quantiles: dict[str, float] | None = None, top: int = DEFAULT_TOP) -> OpenSetRule:
    """Bars from known photos (validation split) at the given quantile levels.

    - species: the ``quantiles["species"]`` quantile of each photo's similarity to its own species;
    - genus: the ``quantiles["genus"]`` quantile of the similarity to the *other* species of its genus
      (the photo standing in for an unknown sibling);
    - family: likewise for the other genera of its family.
    The levels are chosen on held-out labels by ``benchmarks/bench_openset.py``.
    """
    return rule_from_similarities(openset_similarities(bank, features, targets, top), quantiles, top)


def fit_learned_openset(bank: LabelledBank, probs: np.ndarray, features: np.ndarray, targets: np.ndarray,
                        species_threshold: float, quantiles: dict[str, float] | None = None,
                        max_species_loss: float = DEFAULT_MAX_SPECIES_LOSS, groups: int = DEFAULT_GROUPS,
                        top: int = DEFAULT_TOP, signals: Sequence[str] = DEFAULT_SIGNALS) -> OpenSetRule:
    """The ``learned_unknown`` rule from validation photos of known labels only.

    The combiner learns from simulated unknowns (:mod:`~butterflyer.serve.openset_learn`); its
    threshold costs at most ``max_species_loss`` of the validation photos a correct species answer;
    the genus and family bars are the quantile bars of :func:`fit_openset` (the species bar is off:
    the combiner reads the species similarity itself).
    """
    x = np.asarray(features, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    sims = x @ bank.bank.T
    combiner, report = fit_learned(bank.scores, np.asarray(probs), sims, np.asarray(targets),
                                   species_threshold, max_species_loss, groups, names=signals)
    bars = rule_from_similarities(openset_similarities(bank, features, targets, top),
                                  {**LEARNED_QUANTILES, **(quantiles or {}), "species": -1.0}, top)
    fitted = {**bars.fitted, **report}
    return OpenSetRule(species_similarity=-1.0, genus_similarity=bars.genus_similarity,
                       family_similarity=bars.family_similarity, top=top, fitted=fitted, combiner=combiner)
