"""Leave-species-out benchmark: what the app answers for butterflies outside its label set.

    python benchmarks/bench_openset.py --records .butterflyer/records            # 3 folds, table + plot
    python benchmarks/bench_openset.py --records R --folds 1 --out /tmp/openset

Per fold (seed): 20 of the labels become "unknown" (8 of them one species of a genus
whose sibling stays known, 12 from genera with no known sibling; fixed by the seed and
printed). They are split, again by seed, into a tuning group and an evaluation group of
10 labels each. The main job's head is trained on the known labels only (the same
``train_head`` and temperature fit as ``butterflyer train``'s CPU profile, on the same
cached features), the serving fit runs as ``fit-serving`` does (roll-up thresholds and
the not-a-butterfly gate on validation photos of known labels).

Compared side by side on the same folds: the softmax roll-up alone, the similarity-bar
rule (its quantile levels swept), every single signal of
:mod:`butterflyer.serve.openset_scores` plus a class-conditional Mahalanobis distance
(photos under a quantile of the signal on known val are called unknown, with every
genus/family bar level), the learned rule of :mod:`butterflyer.serve.openset_learn` for
four signal sets (its score swept the same way, and exactly as ``fit-serving`` fits it,
threshold included), and a regression fitted on the tuning group's real unknowns (a
ceiling for a linear combination; not servable).

Each candidate's level is chosen on the tuning group only (most honest answers on it,
with at most 2 points fewer correct species answers on known *validation* photos than
the softmax roll-up); the printed figures are for the evaluation group's photos (all
their train/val/test photos: the model never saw these species) and the known labels'
test photos. Macro-averaged over folds. The trade-off curve of the best servable
candidate is printed; ``openset.png`` plots every candidate's curve.

Features: the head-only CPU profile (frozen pretrained backbone) in PyTorch float32.
``--late-stages N`` instead fine-tunes the backbone's last N stages per fold, on the known
labels only (the ``best`` profile's recipe: 6 epochs, ImageNet-agreement weight 3), and
reads the features from the tuned backbone: features that keep more pretrained knowledge
than a full fine-tune, without ever seeing an unknown label. On 2 CPU cores that costs
about 40 minutes per fold (the early-stage maps come from the feature cache).
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from butterflyer.data.manifest import read_manifest
from butterflyer.serve.catalog import load_catalog
from butterflyer.serve.ood import choose_threshold
from butterflyer.serve.ood_neighbours import NeighbourGate
from butterflyer.serve.openset import (
    LabelledBank,
    OpenSetRule,
    fit_learned_openset,
    openset_similarities,
    rule_from_similarities,
)
from butterflyer.serve.openset_learn import SIGNAL_SETS, fit_combiner
from butterflyer.serve.openset_scores import SCORE_NAMES, candidate_scores
from butterflyer.serve.rollup import Thresholds, fit_thresholds, group_probabilities

BANK_PER_CLASS = 30
LEVELS = {
    "species": [-1.0, 0.02, 0.05, 0.10, 0.15, 0.20, 0.30],
    "genus": [-1.0, 0.10, 0.25, 0.40, 0.60],
    "family": [-1.0, 0.05, 0.10, 0.25, 0.50],
}


@dataclass
class Split:
    feats: torch.Tensor
    labels: torch.Tensor


def pooled_features(records: str, progress: bool = True) -> tuple[list[str], dict[str, Split]]:
    """The CPU profile's pooled features (train, its mirrored maps, val, test), via the feature cache."""
    from butterflyer.data.manifest import read_manifest
    from butterflyer.models import create_model, data_config_for
    from butterflyer.train.config import TrainConfig
    from butterflyer.train.fastpath import MapBank, _pool, cached_maps
    from butterflyer.train.features import cut_backbone

    labels = list(read_manifest(records)["labels"])
    cfg = TrainConfig(input=records, profile="cpu-fast", tracker="none")
    model = create_model(cfg.model, len(labels), pretrained=True)
    cut = cut_backbone(model, cfg.fast_finetune_blocks)
    out: dict[str, Split] = {}
    for split in ("train", "val", "test"):
        maps, ys = cached_maps(cfg, cut, data_config_for(cfg.model), split, False, labels)
        out[split] = Split(_pool(cut.suffix, maps), ys)
        if split == "train":
            out["train_mirrored"] = Split(_pool(cut.suffix, MapBank(maps, ys, mirrored=True))[len(ys) :], ys)
        if progress:
            print(f"features: {split} {tuple(out[split].feats.shape)}", file=sys.stderr, flush=True)
    return labels, out


def finetuned_features(records: str, labels: list[str], known: list[int], seed: int, stages: int
                       ) -> dict[str, Split]:
    """Pooled features after fine-tuning the last ``stages`` stages on the ``known`` labels only."""
    from butterflyer.models import create_model, data_config_for
    from butterflyer.train.config import TrainConfig
    from butterflyer.train.fastpath import MapBank, _pool, cached_maps, late_stage_plan, train_head
    from butterflyer.train.features import cut_backbone
    from butterflyer.train.late_stage import LateStageData, Maps, fit_late_stages, reference_logits

    cfg = TrainConfig(input=records, profile="cpu-fast", tracker="none", seed=seed,
                      fast_finetune_blocks=stages, fast_finetune_epochs=6, lwf_weight=3.0)
    model = create_model(cfg.model, len(known), pretrained=True)
    cut = cut_backbone(model, stages)
    config = data_config_for(cfg.model)
    maps = {s: cached_maps(cfg, cut, config, s, False, labels) for s in ("train", "val", "test")}
    remap = torch.full((len(labels),), -1, dtype=torch.long)
    remap[known] = torch.arange(len(known))

    def known_maps(split: str) -> Maps:
        m, ys = maps[split]
        keep = torch.isin(ys, torch.tensor(known))
        return Maps(m[keep], remap[ys[keep]])

    train, val = known_maps("train"), known_maps("val")
    bank = MapBank(train.maps, train.labels, mirrored=True)
    train_head(model.head, model.dropout, _pool(cut.suffix, bank), bank.labels, _pool(cut.suffix, val.maps),
               val.labels, cfg, gen=torch.Generator().manual_seed(seed))
    targets = reference_logits(model, cut.suffix, train, species=False, imagenet=True)
    fit_late_stages(model, cut.suffix, LateStageData(train, val, targets), late_stage_plan(cfg), None, None,
                    seed=seed)
    model.eval()
    out: dict[str, Split] = {}
    with torch.no_grad():
        for split, (m, ys) in maps.items():  # every photo, unknown labels included, through the tuned stages
            out[split] = Split(_pool(cut.suffix, m), ys)
            if split == "train":
                out["train_mirrored"] = Split(_pool(cut.suffix, MapBank(m, ys, mirrored=True))[len(ys):], ys)
    return out


def choose_unknown(
    genera: list[str | None], families: list[str | None], seed: int, siblings: int = 8, total: int = 20
) -> tuple[list[int], list[int]]:
    """Unknown labels (one species of ``siblings`` multi-species genera + labels of single-species
    genera) and their split into tuning and evaluation groups, both fixed by ``seed``."""
    rng = random.Random(seed)
    by_genus: dict[tuple[str | None, str | None], list[int]] = collections.defaultdict(list)
    for i, (g, f) in enumerate(zip(genera, families, strict=True)):
        if g and f:
            by_genus[(f, g)].append(i)
    multi = sorted((v for v in by_genus.values() if len(v) > 1), key=lambda v: v[0])
    single = sorted(v[0] for v in by_genus.values() if len(v) == 1)
    with_sibling = sorted(rng.choice(v) for v in rng.sample(multi, min(siblings, len(multi))))
    without = sorted(rng.sample(single, min(total - len(with_sibling), len(single))))
    tuning, evaluation = [], []
    for group in (with_sibling, without):  # stratified: half of each kind per group
        shuffled = group[:]
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        tuning += shuffled[:half]
        evaluation += shuffled[half:]
    return sorted(tuning), sorted(evaluation)


@dataclass
class Fold:
    probs: dict[str, np.ndarray]  # calibrated probabilities over the known labels
    feats: dict[str, np.ndarray]  # unit features
    truth: dict[str, np.ndarray]  # original label index
    known: list[int]
    bank: LabelledBank
    gate: NeighbourGate
    thresholds: Thresholds


def train_fold(
    labels: list[str],
    data: dict[str, Split],
    unknown: list[int],
    genera: list[str | None],
    families: list[str | None],
    seed: int,
    heads: str = "single",
    ensemble: int = 5,
) -> Fold:
    """Head on the known labels, temperature, roll-up thresholds, bank and gate, as the main job fits them.

    ``heads``: ``single`` (the main job's head), ``seeds`` (mean probability of ``ensemble`` heads that
    differ only in seed: the control) or ``leave-out`` (outlier exposure: ``ensemble`` heads, each with
    its own share of the known labels left out as stand-in unknowns, see :func:`leave_out_targets`).
    """
    from butterflyer.train.calibration import fit_temperature
    from butterflyer.train.config import TrainConfig
    from butterflyer.train.fastpath import train_head

    known = [i for i in range(len(labels)) if i not in set(unknown)]
    remap = torch.full((len(labels),), -1, dtype=torch.long)
    remap[known] = torch.arange(len(known))

    def part(name: str, keep: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        split = data[name]
        mask = torch.isin(split.labels, torch.tensor(keep))
        return split.feats[mask], split.labels[mask]

    x_train, y_train = part("train", known)
    x_flip, _ = part("train_mirrored", known)
    x_val, y_val = part("val", known)
    cfg = TrainConfig(input="-", profile="cpu-fast", tracker="none", seed=seed)
    sub_genera, sub_families = [genera[i] for i in known], [families[i] for i in known]
    xs, ys = torch.cat([x_train, x_flip]), remap[torch.cat([y_train, y_train])]
    if heads == "single":
        groups: list[set[int]] = [set()]
    else:
        order = np.random.default_rng(1000 + seed).permutation(len(known))
        groups = [set() if heads == "seeds" else set(order[k::ensemble].tolist()) for k in range(ensemble)]
    members = []
    for k, group in enumerate(groups):
        torch.manual_seed(seed * 100 + k)
        member, dropout = torch.nn.Linear(x_train.shape[1], len(known)), torch.nn.Dropout(0.2)
        targets = ys if not group else leave_out_targets(len(known), group, sub_genera, sub_families)[ys]
        train_head(member, dropout, xs, targets, x_val, remap[y_val], cfg,
                   gen=torch.Generator().manual_seed(seed * 100 + k))
        members.append(member.eval())
    head = members[0] if len(members) == 1 else MeanProbability(members)
    with torch.no_grad():
        temperature = fit_temperature(head(x_val), remap[y_val])
    bank_rows, bank_labels = [], []
    for new, old in enumerate(known):
        rows = x_train[y_train == old][:BANK_PER_CLASS]
        bank_rows.append(rows)
        bank_labels += [new] * len(rows)
    gate = NeighbourGate.fit(torch.cat(bank_rows).numpy())
    bank = LabelledBank(gate.bank, np.array(bank_labels), sub_genera, sub_families)
    probs, feats, truth = {}, {}, {}
    for name, keep in (("val", known), ("test", known), ("unknown", unknown)):
        if name == "unknown":
            x = torch.cat([part(s, keep)[0] for s in ("train", "val", "test")])
            y = torch.cat([part(s, keep)[1] for s in ("train", "val", "test")])
        else:
            x, y = part(name, keep)
        with torch.no_grad():
            probs[name] = torch.softmax(head(x) / temperature, 1).numpy()
        feats[name] = F.normalize(x, dim=1).numpy()
        truth[name] = y.numpy()
    catalog_of = {i: (g, f) for i, (g, f) in enumerate(zip(sub_genera, sub_families, strict=True))}
    thresholds = fit_thresholds(
        probs["val"],
        remap[torch.as_tensor(truth["val"])].numpy(),
        lambda label: catalog_of[int(label)],
        [str(i) for i in range(len(known))],
    )  # labels as their own keys
    gate = gate.with_threshold(choose_threshold(gate.similarity(feats["val"])))
    return Fold(probs, feats, truth, known, bank, gate, thresholds)


def leave_out_targets(n: int, left_out: set[int], genera: list[str | None],
                      families: list[str | None]) -> torch.Tensor:
    """``(n, n)`` soft targets, row = true label: one-hot for a kept label; for a left-out label, its
    probability spread evenly over the kept labels of its genus, else of its family, else over all
    kept labels. The head learns to answer an unfamiliar species with its group, not a sibling."""
    kept = [i for i in range(n) if i not in left_out]
    out = torch.zeros(n, n)
    for label in range(n):
        if label not in left_out:
            out[label, label] = 1.0
            continue
        spread = [i for i in kept if genera[label] and genera[i] == genera[label]]
        spread = spread or [i for i in kept if families[label] and families[i] == families[label]] or kept
        out[label, spread] = 1.0 / len(spread)
    return out


class MeanProbability(torch.nn.Module):
    """An ensemble of heads as one: the log of their mean probability (logits for the temperature fit)."""

    def __init__(self, heads: list[torch.nn.Module]) -> None:
        super().__init__()
        self.heads = torch.nn.ModuleList(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.stack([torch.softmax(h(x), dim=1) for h in self.heads]).mean(dim=0)
        return torch.log(mean.clamp_min(1e-12))


@dataclass
class Signals:
    """What the decision reads, per photo, computed once per fold and photo set (levels only move bars)."""

    passed: np.ndarray  # the not-a-butterfly gate let it through
    best: np.ndarray  # index (among the known labels) of the most probable species
    top: np.ndarray
    species_sim: np.ndarray
    genus: list[str | None]
    genus_mass: np.ndarray
    genus_sim: np.ndarray
    family: list[str | None]
    family_mass: np.ndarray
    family_sim: np.ndarray
    truth: np.ndarray


def signals(fold: Fold, name: str, top: int = 3) -> Signals:
    """The same quantities :func:`butterflyer.serve.openset.decide` computes, for every photo of ``name``."""
    bank = fold.bank
    rows = []
    for probs, feats in zip(fold.probs[name], fold.feats[name], strict=True):
        sims = bank.bank @ feats
        best = int(np.argmax(probs))
        row = [best, float(probs[best]), bank.top_mean(sims, bank.rows_of_label.get(best), top)]
        for rank, groups in (("genus", bank.genera), ("family", bank.families)):
            sums = group_probabilities(probs, groups)
            if sums:
                group, mass = max(sums.items(), key=lambda kv: kv[1])
                row += [group, mass, bank.top_mean(sims, bank.rows_of_group.get((rank, group)), top)]
            else:
                row += [None, 0.0, -1.0]
        rows.append(row)
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 9
    passed = fold.gate.similarity(fold.feats[name]) >= fold.gate.threshold
    return Signals(
        passed,
        np.array(cols[0], dtype=int),
        np.array(cols[1]),
        np.array(cols[2]),
        list(cols[3]),
        np.array(cols[4]),
        np.array(cols[5]),
        list(cols[6]),
        np.array(cols[7]),
        np.array(cols[8]),
        fold.truth[name],
    )


def verdicts(sig: Signals, rule: OpenSetRule | None, t: Thresholds) -> np.ndarray:
    """Each photo's verdict under ``rule`` (``None``: today's softmax roll-up), vectorised."""
    if rule is None:
        return flag_verdicts(sig, np.zeros(len(sig.top), dtype=bool), -np.inf, -np.inf, t)
    return flag_verdicts(sig, sig.species_sim < rule.species_similarity, rule.genus_similarity,
                         rule.family_similarity, t)


def flag_verdicts(sig: Signals, unknown: np.ndarray, genus_bar: float, family_bar: float,
                  t: Thresholds) -> np.ndarray:
    """Verdicts when ``unknown`` says which photos look like an unknown species (the served decision)."""
    genus_ok = (sig.genus_mass >= t.genus) & (sig.genus_sim >= genus_bar)
    family_ok = (sig.family_mass >= t.family) & (sig.family_sim >= family_bar)
    genus_ok &= np.array([g is not None for g in sig.genus], dtype=bool)
    family_ok &= np.array([f is not None for f in sig.family], dtype=bool)
    out = np.where(unknown, "unknown_species", "uncertain").astype(object)
    out[family_ok] = "family"
    out[genus_ok] = "genus"
    out[(sig.top >= t.species) & ~unknown] = "species"
    out[~sig.passed] = "not_a_butterfly"
    return out


def grade(
    fold: Fold, sig: Signals, rule: OpenSetRule | None, genera: list[str | None], families: list[str | None]
) -> collections.Counter[str]:
    """Count answers by kind for one set of photos."""
    return grade_verdicts(fold, sig, verdicts(sig, rule, fold.thresholds), genera, families)


def grade_verdicts(
    fold: Fold, sig: Signals, said_verdicts: np.ndarray, genera: list[str | None], families: list[str | None]
) -> collections.Counter[str]:
    """Count answers by kind for given verdicts, photo by photo (the reference :func:`fast_shares` is
    checked against)."""
    counts: collections.Counter[str] = collections.Counter()
    for i, verdict in enumerate(said_verdicts):
        truth = int(sig.truth[i])
        if verdict == "not_a_butterfly":
            counts["rejected"] += 1
        elif verdict == "species":
            counts["species_right" if fold.known[sig.best[i]] == truth else "species_wrong"] += 1
        elif verdict in ("genus", "family"):
            said = sig.genus[i] if verdict == "genus" else sig.family[i]
            true_name = genera[truth] if verdict == "genus" else families[truth]
            counts["rollup_right" if said == true_name else "rollup_wrong"] += 1
        else:
            counts["unknown_or_uncertain"] += 1
    counts["total"] = int(len(sig.truth))
    return counts


def shares(c: collections.Counter[str]) -> dict[str, float]:
    n = max(c["total"], 1)
    return {
        "wrong_species": c["species_wrong"] / n,
        "honest": (c["rollup_right"] + c["unknown_or_uncertain"]) / n,
        "wrong_rollup": c["rollup_wrong"] / n,
        "rejected": c["rejected"] / n,
        "species_right": c["species_right"] / n,
        "coverage": (c["species_right"] + c["species_wrong"]) / n,
    }


@dataclass
class Prepared:
    fold: Fold
    tuning: list[int]
    evaluation: list[int]
    similarities: dict[str, list[float]]
    sig: dict[str, Signals]
    knownness: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # set -> candidate -> score
    served: dict[str, OpenSetRule] = field(default_factory=dict)  # signal set -> rule as fit-serving fits it
    # signal set -> photo set -> flagged as unknown
    served_unknown: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def prepare(fold: Fold, tuning: list[int], evaluation: list[int], learned: bool = True) -> Prepared:
    sims = openset_similarities(fold.bank, fold.feats["val"], _known_index(fold, fold.truth["val"]))
    sets = {name: fold for name in ("val", "test")}
    for group, labels_ in (("tuning", tuning), ("evaluation", evaluation)):
        sets[group] = _subset(fold, "unknown", np.isin(fold.truth["unknown"], labels_))
    sig = {name: signals(f, "unknown" if name in ("tuning", "evaluation") else name)
           for name, f in sets.items()}
    out = Prepared(fold, tuning, evaluation, sims, sig)
    if not learned:
        return out
    scores = {}
    for name, f in sets.items():
        key = "unknown" if name in ("tuning", "evaluation") else name
        scores[name] = candidate_scores(fold.bank.scores, f.probs[key], f.feats[key] @ fold.bank.bank.T)
        out.knownness[name] = dict(scores[name])
    val_truth = _known_index(fold, fold.truth["val"])
    for set_name, names in SIGNAL_SETS.items():
        rule = fit_learned_openset(fold.bank, fold.probs["val"], fold.feats["val"], val_truth,
                                   fold.thresholds.species, signals=names)
        assert rule.combiner is not None
        out.served[set_name] = rule
        out.served_unknown[set_name] = {}
        for name in sets:
            logit = rule.combiner.logit(scores[name])
            out.knownness[name][f"learned[{set_name}]"] = -logit
            out.served_unknown[set_name][name] = logit >= rule.combiner.threshold
    maha = mahalanobis(fold.bank)
    for name, f in sets.items():
        key = "unknown" if name in ("tuning", "evaluation") else name
        out.knownness[name]["neg_mahalanobis"] = maha(f.feats[key])
    # the ceiling of a linear combination: weights fitted on the tuning group's truly unknown photos
    x = np.concatenate([np.stack([scores[n][k] for k in SCORE_NAMES], axis=1) for n in ("val", "tuning")])
    y = np.concatenate([np.zeros(len(sig["val"].top), bool), np.ones(len(sig["tuning"].top), bool)])
    ceiling = fit_combiner(x, y)
    for name in sets:
        out.knownness[name]["tuning-fitted LR (ceiling)"] = -ceiling.logit(scores[name])
    return out


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """Chance that a random known photo scores higher (more "known") than a random unknown one."""
    from sklearn.metrics import roc_auc_score

    truth = np.r_[np.ones(len(known)), np.zeros(len(unknown))]
    return float(roc_auc_score(truth, np.r_[known, unknown]))


def separation(prepared: list[Prepared]) -> dict[str, float]:
    """Per candidate score, AUROC of known test photos against the evaluation group's, macro over folds."""
    names = prepared[0].knownness["test"].keys()
    return {name: float(np.mean([auroc(p.knownness["test"][name], p.knownness["evaluation"][name])
                                 for p in prepared])) for name in names}


def mahalanobis(bank: LabelledBank) -> Callable[[np.ndarray], np.ndarray]:
    """Minus the smallest class-conditional Mahalanobis distance (class means of the bank, one shared
    Ledoit-Wolf covariance): a benchmark-only candidate, serving does not compute it."""
    from sklearn.covariance import LedoitWolf

    labels = np.unique(bank.labels)
    means = np.stack([bank.bank[bank.labels == c].mean(axis=0) for c in labels]).astype(np.float64)
    centred = bank.bank - means[np.searchsorted(labels, bank.labels)]
    precision = LedoitWolf().fit(centred).precision_
    mp = means @ precision
    const = (mp * means).sum(axis=1)

    def score(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        d = ((x @ precision) * x).sum(axis=1)[:, None] - 2 * x @ mp.T + const[None]
        return -d.min(axis=1)

    return score


def sweep(prepared: list[Prepared], genera: list[str | None], families: list[str | None]) -> list[dict]:
    """Every level combination: tuning-group honesty and known-val species answers, averaged over folds."""
    rows = []
    baselines = [
        shares(grade(p.fold, p.sig["val"], None, genera, families))["species_right"] for p in prepared
    ]
    for levels in itertools.product(LEVELS["species"], LEVELS["genus"], LEVELS["family"]):
        q = dict(zip(("species", "genus", "family"), levels, strict=True))
        tune_honest, tune_wrong, val_drop = [], [], []
        for p, base in zip(prepared, baselines, strict=True):
            rule = rule_from_similarities(p.similarities, q)
            tuned = shares(grade(p.fold, p.sig["tuning"], rule, genera, families))
            tune_honest.append(tuned["honest"])
            tune_wrong.append(tuned["wrong_species"])
            val_drop.append(
                base - shares(grade(p.fold, p.sig["val"], rule, genera, families))["species_right"]
            )
        rows.append(
            {
                "levels": q,
                "tune_honest": float(np.mean(tune_honest)),
                "tune_wrong_species": float(np.mean(tune_wrong)),
                "val_drop": float(np.mean(val_drop)),
            }
        )
    return rows


CANDIDATES = (*SCORE_NAMES, "neg_mahalanobis", *(f"learned[{k}]" for k in SIGNAL_SETS),
              "tuning-fitted LR (ceiling)")
FLAG_LEVELS = [0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]


@dataclass
class Truth:
    """Per photo: is the top species, the top genus, the top family the true one."""

    species: np.ndarray
    genus: np.ndarray
    family: np.ndarray


def truth_of(fold: Fold, sig: Signals, genera: list[str | None], families: list[str | None]) -> Truth:
    true = sig.truth.astype(int)
    return Truth(
        np.array([fold.known[b] == t for b, t in zip(sig.best, true, strict=True)], dtype=bool),
        np.array([g == genera[t] for g, t in zip(sig.genus, true, strict=True)], dtype=bool),
        np.array([f == families[t] for f, t in zip(sig.family, true, strict=True)], dtype=bool),
    )


def fast_shares(v: np.ndarray, tr: Truth) -> dict[str, float]:
    """:func:`shares` of :func:`grade`, vectorised over verdicts ``v``."""
    n = max(len(v), 1)
    sp, ge, fa = v == "species", v == "genus", v == "family"
    rollup_right = (ge & tr.genus) | (fa & tr.family)
    other = (v == "uncertain") | (v == "unknown_species")
    return {
        "wrong_species": float((sp & ~tr.species).sum() / n),
        "honest": float((rollup_right.sum() + other.sum()) / n),
        "wrong_rollup": float(((ge | fa) & ~rollup_right).sum() / n),
        "rejected": float((v == "not_a_butterfly").sum() / n),
        "species_right": float((sp & tr.species).sum() / n),
        "coverage": float(sp.sum() / n),
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def candidate_sweep(prepared: list[Prepared], genera: list[str | None], families: list[str | None],
                    candidate: str) -> list[dict]:
    """Flag photos whose ``candidate`` score is under its ``level`` quantile on known val, with every
    genus/family bar level; all four photo sets graded, macro-averaged over folds."""
    sets = ("val", "test", "tuning", "evaluation")
    truths = [{s: truth_of(p.fold, p.sig[s], genera, families) for s in sets} for p in prepared]
    base = [{s: fast_shares(verdicts(p.sig[s], None, p.fold.thresholds), truths[i][s])
             for s in ("val", "test")} for i, p in enumerate(prepared)]
    bars = [{(g, f): rule_from_similarities(p.similarities, {"species": -1.0, "genus": g, "family": f})
             for g, f in itertools.product(LEVELS["genus"], LEVELS["family"])} for p in prepared]
    rows = []
    for level in FLAG_LEVELS:
        flags = []
        for p in prepared:
            k = p.knownness
            cut = np.quantile(k["val"][candidate], level) if level > 0 else -np.inf
            flags.append({s: k[s][candidate] < cut for s in sets})
        for g, f in itertools.product(LEVELS["genus"], LEVELS["family"]):
            per_set: dict[str, list[dict[str, float]]] = {s: [] for s in sets}
            drops: dict[str, list[float]] = {"val": [], "test": []}
            for i, p in enumerate(prepared):
                rule = bars[i][(g, f)]
                for s in sets:
                    v = flag_verdicts(p.sig[s], flags[i][s], rule.genus_similarity, rule.family_similarity,
                                      p.fold.thresholds)
                    per_set[s].append(fast_shares(v, truths[i][s]))
                for s in drops:
                    drops[s].append(base[i][s]["species_right"] - per_set[s][-1]["species_right"])
            tune, ev, te = _mean(per_set["tuning"]), _mean(per_set["evaluation"]), _mean(per_set["test"])
            rows.append({"candidate": candidate, "level": level, "genus": g, "family": f,
                         "tune_honest": tune["honest"], "tune_wrong_species": tune["wrong_species"],
                         "val_drop": float(np.mean(drops["val"])), "test_drop": float(np.mean(drops["test"])),
                         "evaluation_unknown": ev, "known_test": te})
    return rows


def choose(rows: list[dict], max_val_drop: float) -> dict:
    """Most honest on the tuning group within the known-val budget (ties: fewer answers lost)."""
    allowed = [r for r in rows if r["val_drop"] <= max_val_drop + 1e-9]
    return max(allowed, key=lambda r: (r["tune_honest"], -r["val_drop"]))


def curve(rows: list[dict]) -> list[dict]:
    """Per flag level, the bar levels most honest on the tuning group."""
    return [max((r for r in rows if r["level"] == level), key=lambda r: r["tune_honest"])
            for level in sorted({r["level"] for r in rows})]


def served_shares(prepared: list[Prepared], genera: list[str | None], families: list[str | None],
                  signal_set: str) -> dict[str, dict[str, float]]:
    """A learned rule as fit-serving stores it (its own threshold and bars), macro-averaged."""
    keys = {"evaluation": "evaluation_unknown", "test": "known_test", "val": "known_val",
            "tuning": "tuning_unknown"}
    out: dict[str, list[dict[str, float]]] = {k: [] for k in keys.values()}
    for p in prepared:
        rule = p.served[signal_set]
        for s, key in keys.items():
            v = flag_verdicts(p.sig[s], p.served_unknown[signal_set][s], rule.genus_similarity,
                              rule.family_similarity, p.fold.thresholds)
            out[key].append(fast_shares(v, truth_of(p.fold, p.sig[s], genera, families)))
    return {k: _mean(v) for k, v in out.items()}


def _known_index(fold: Fold, truth: np.ndarray) -> np.ndarray:
    index = {old: new for new, old in enumerate(fold.known)}
    return np.array([index[int(t)] for t in truth])


def _subset(fold: Fold, name: str, mask: np.ndarray) -> Fold:
    return Fold(
        {**fold.probs, name: fold.probs[name][mask]},
        {**fold.feats, name: fold.feats[name][mask]},
        {**fold.truth, name: fold.truth[name][mask]},
        fold.known,
        fold.bank,
        fold.gate,
        fold.thresholds,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", required=True)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument(
        "--max-val-drop", type=float, default=0.02, help="known-val species answers lost (fraction)"
    )
    ap.add_argument("--out", type=Path, default=None, help="folder for openset.json and openset.png")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (small matrices: one is fastest)")
    ap.add_argument("--heads", choices=("single", "seeds", "leave-out"), default="single",
                    help="the main job's head, an ensemble differing in seed, or leave-out heads "
                         "(outlier exposure)")
    ap.add_argument("--ensemble", type=int, default=5, help="heads in an ensemble")
    ap.add_argument("--late-stages", type=int, default=0,
                    help="fine-tune this many late stages per fold on the known labels (0: frozen backbone)")
    ap.add_argument("--fold-cache", type=Path, default=None,
                    help="pickle of the trained folds, reused when the records and fold count match")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    catalog = load_catalog()
    labels = list(read_manifest(args.records)["labels"])
    genera, families = [catalog.genus(x) for x in labels], [catalog.family(x) for x in labels]
    heads = args.heads if args.heads == "single" else f"{args.heads}x{args.ensemble}"
    if args.late_stages:
        heads += f"+stages{args.late_stages}"
    folds = _load_folds(args.fold_cache, args.records, args.folds, heads) if args.fold_cache else None
    if folds is None:
        data = {} if args.late_stages else pooled_features(args.records)[1]
        folds = []
        for seed in range(args.folds):
            tuning, evaluation = choose_unknown(genera, families, seed)
            if args.late_stages:
                known = [i for i in range(len(labels)) if i not in set(tuning + evaluation)]
                data = finetuned_features(args.records, labels, known, seed, args.late_stages)
            fold = train_fold(labels, data, tuning + evaluation, genera, families, seed, args.heads,
                              args.ensemble)
            folds.append((fold, tuning, evaluation))
        if args.fold_cache:
            _save_folds(args.fold_cache, args.records, args.folds, heads, folds)
    prepared = []
    for seed, (fold, tuning, evaluation) in enumerate(folds):
        print(f"fold {seed}: tuning {[labels[i] for i in tuning]}")
        print(f"        evaluation {[labels[i] for i in evaluation]}", flush=True)
        prepared.append(prepare(fold, tuning, evaluation))
    rows = sweep(prepared, genera, families)
    allowed = [r for r in rows if r["val_drop"] <= args.max_val_drop + 1e-9]
    bars_chosen = max(allowed, key=lambda r: (r["tune_honest"], -r["val_drop"]))
    print(f"\nsimilarity bars chosen on the tuning group: levels {bars_chosen['levels']} "
          f"(tuning honest {bars_chosen['tune_honest']:.1%}, "
          f"known-val species answers -{bars_chosen['val_drop']:.1%})")
    table: dict[str, dict] = {}
    for name, levels in (("softmax roll-up only (before #13)", None), ("similarity bars (previous rule)",
                                                                      bars_chosen["levels"])):
        ev, te = [], []
        for p in prepared:
            rule = None if levels is None else rule_from_similarities(p.similarities, levels)
            ev.append(shares(grade(p.fold, p.sig["evaluation"], rule, genera, families)))
            te.append(shares(grade(p.fold, p.sig["test"], rule, genera, families)))
        table[name] = {"evaluation_unknown": _mean(ev), "known_test": _mean(te)}
    candidates: dict[str, dict] = {}
    sweeps: dict[str, list[dict]] = {}
    for cand in CANDIDATES:
        sweeps[cand] = candidate_sweep(prepared, genera, families, cand)
        best = choose(sweeps[cand], args.max_val_drop)
        candidates[cand] = best
        table[f"{cand} (level {best['level']}, bars g{best['genus']}/f{best['family']})"] = best
    softmax_val = _mean([fast_shares(verdicts(p.sig["val"], None, p.fold.thresholds),
                                     truth_of(p.fold, p.sig["val"], genera, families)) for p in prepared])
    print("\nlearned rules as fit-serving fits them (threshold from the known-val budget), tuning group:")
    for set_name in SIGNAL_SETS:
        table[f"learned[{set_name}] as served"] = served = served_shares(prepared, genera, families, set_name)
        print(f"  {set_name:26} honest {served['tuning_unknown']['honest']:.1%}, wrong species "
              f"{served['tuning_unknown']['wrong_species']:.1%}, known-val species answers "
              f"-{softmax_val['species_right'] - served['known_val']['species_right']:.1%}")
    servable = [c for c in CANDIDATES if "ceiling" not in c]
    winner = max(servable, key=lambda c: (candidates[c]["tune_honest"], -candidates[c]["val_drop"]))
    print("\nknown-val species answers lost at most", f"{args.max_val_drop:.0%};",
          "choices on the tuning group, figures on the evaluation group and known test (macro over folds)")
    print(f"\n{'':44} | unknown species (evaluation group)           | known species (test)")
    print(f"{'rule':44} | wrong sp. | honest | wrong roll-up | rejected | right sp. | coverage | rejected")
    for name, r in table.items():
        u, k = r["evaluation_unknown"], r["known_test"]
        print(
            f"{name[:44]:44} | {u['wrong_species']:9.1%} | {u['honest']:6.1%} | {u['wrong_rollup']:13.1%} | "
            f"{u['rejected']:8.1%} | {k['species_right']:9.1%} | {k['coverage']:8.1%} | {k['rejected']:8.1%}"
        )
    print(f"\ntrade-off of the best candidate ({winner}); per flag level the bars most honest on tuning:")
    print("  level | tuning honest / wrong sp. | val lost | evaluation honest / wrong sp. | test lost")
    for r in curve(sweeps[winner]):
        e = r["evaluation_unknown"]
        print(f"  {r['level']:5} | {r['tune_honest']:13.1%} / {r['tune_wrong_species']:8.1%} | "
              f"{r['val_drop']:8.1%} | {e['honest']:17.1%} / {e['wrong_species']:8.1%} | "
              f"{r['test_drop']:9.1%}")
    separated = separation(prepared)
    print("\nhow well each score separates known test photos from the evaluation group's (AUROC, macro):")
    for name, value in sorted(separated.items(), key=lambda kv: -kv[1]):
        print(f"  {name:30} {value:.3f}")
    served = {k: [p.served[k].fitted for p in prepared] for k in SIGNAL_SETS}
    for k, fits in served.items():
        print(f"learned[{k}] as served, per fold: simulated unknowns flagged",
              [round(f["simulated_unknown_flagged"], 3) for f in fits], "simulated knowns flagged",
              [round(f["simulated_known_flagged"], 3) for f in fits])
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report = json.dumps(
            {"similarity_bars_chosen": bars_chosen, "table": table, "winner": winner, "auroc": separated,
             "curves": {c: curve(v) for c, v in sweeps.items()}, "similarity_bar_sweep": rows,
             "served_fits": served}, indent=2)
        tmp = args.out / "openset.json.tmp"
        tmp.write_text(report)
        tmp.replace(args.out / "openset.json")
        _plot({c: curve(v) for c, v in sweeps.items()}, winner, args.out / "openset.png")
    return 0


def _save_folds(path: Path, records: str, n: int, heads: str, folds: list) -> None:
    import pickle

    from butterflyer.train.data import data_sha256

    stored = {"records": data_sha256(records), "folds": n, "heads": heads, "data": folds}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(pickle.dumps(stored))
    tmp.replace(path)  # atomic: an interrupted run leaves the old cache or none


def _load_folds(path: Path, records: str, n: int, heads: str) -> list | None:
    """Folds trained by an earlier run on the same records (a developer's cache; ``None`` when stale)."""
    import pickle

    from butterflyer.train.data import data_sha256

    if not path.is_file():
        return None
    stored = pickle.loads(path.read_bytes())  # noqa: S301 - the user's own cache file
    if stored["records"] != data_sha256(records) or stored["folds"] != n or stored.get("heads") != heads:
        return None
    return list(stored["data"])


def _plot(curves: dict[str, list[dict]], winner: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for cand, rows in curves.items():
        ax.plot([r["val_drop"] * 100 for r in rows], [r["tune_honest"] * 100 for r in rows], marker=".",
                lw=2.5 if cand == winner else 0.8, label=cand)
    ax.axvline(2.0, color="grey", ls=":")
    ax.set_xlabel("known species: correct species answers lost on val (points)")
    ax.set_ylabel("unknown species (tuning group): honest answers (%)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
