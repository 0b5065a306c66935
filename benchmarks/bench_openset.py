"""Leave-species-out benchmark: what the app answers for butterflies outside its label set.

    python benchmarks/bench_openset.py --records .butterflyer/records            # 3 folds, table + plot
    python benchmarks/bench_openset.py --records R --folds 1 --out /tmp/openset

Per fold (seed): 20 of the labels become "unknown" (8 of them one species of a genus
whose sibling stays known, 12 from genera with no known sibling; fixed by the seed and
printed). They are split, again by seed, into a tuning group and an evaluation group of
10 labels each. The main job's head is trained on the known labels only (the same
``train_head`` and temperature fit as ``butterflyer train``'s CPU profile, on the same
cached features), the serving fit runs as ``fit-serving`` does (roll-up thresholds and
the not-a-butterfly gate on validation photos of known labels), and the open-set rule's
quantile levels are swept.

The levels are chosen on the tuning group only (most honest answers on it, with at
most 2 points fewer correct species answers on known *validation* photos than without
the rule); the printed figures are for the evaluation group's photos (all their
train/val/test photos: the model never saw these species) and the known labels' test
photos. Macro-averaged over folds.

Features: the head-only CPU profile (frozen pretrained backbone) in PyTorch float32.
A late-stage fine-tune would have to be redone per fold without the unknown labels.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from butterflyer.serve.catalog import load_catalog
from butterflyer.serve.ood import choose_threshold
from butterflyer.serve.ood_neighbours import NeighbourGate
from butterflyer.serve.openset import LabelledBank, OpenSetRule, openset_similarities, rule_from_similarities
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
) -> Fold:
    """Head on the known labels, temperature, roll-up thresholds, bank and gate, as the main job fits them."""
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
    torch.manual_seed(seed)
    head, dropout = torch.nn.Linear(x_train.shape[1], len(known)), torch.nn.Dropout(0.2)
    train_head(
        head,
        dropout,
        torch.cat([x_train, x_flip]),
        remap[torch.cat([y_train, y_train])],
        x_val,
        remap[y_val],
        cfg,
        gen=torch.Generator().manual_seed(seed),
    )
    head.eval()
    with torch.no_grad():
        temperature = fit_temperature(head(x_val), remap[y_val])
    sub_genera, sub_families = [genera[i] for i in known], [families[i] for i in known]
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
    off = rule is None
    known = np.ones_like(sig.top, dtype=bool) if off else sig.species_sim >= rule.species_similarity
    genus_ok = sig.genus_mass >= t.genus
    family_ok = sig.family_mass >= t.family
    if not off:
        genus_ok &= sig.genus_sim >= rule.genus_similarity
        family_ok &= sig.family_sim >= rule.family_similarity
    genus_ok &= np.array([g is not None for g in sig.genus])
    family_ok &= np.array([f is not None for f in sig.family])
    out = np.where(known, "uncertain", "unknown_species").astype(object)
    out[family_ok] = "family"
    out[genus_ok] = "genus"
    out[(sig.top >= t.species) & known] = "species"
    out[~sig.passed] = "not_a_butterfly"
    return out


def grade(
    fold: Fold, sig: Signals, rule: OpenSetRule | None, genera: list[str | None], families: list[str | None]
) -> collections.Counter[str]:
    """Count answers by kind for one set of photos."""
    counts: collections.Counter[str] = collections.Counter()
    for i, verdict in enumerate(verdicts(sig, rule, fold.thresholds)):
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


def prepare(fold: Fold, tuning: list[int], evaluation: list[int]) -> Prepared:
    sims = openset_similarities(fold.bank, fold.feats["val"], _known_index(fold, fold.truth["val"]))
    sig = {name: signals(fold, name) for name in ("val", "test")}
    for group, labels_ in (("tuning", tuning), ("evaluation", evaluation)):
        sig[group] = signals(_subset(fold, "unknown", np.isin(fold.truth["unknown"], labels_)), "unknown")
    return Prepared(fold, tuning, evaluation, sims, sig)


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
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    catalog = load_catalog()
    labels, data = pooled_features(args.records)
    genera, families = [catalog.genus(x) for x in labels], [catalog.family(x) for x in labels]
    prepared = []
    for seed in range(args.folds):
        tuning, evaluation = choose_unknown(genera, families, seed)
        print(f"fold {seed}: tuning {[labels[i] for i in tuning]}")
        print(f"        evaluation {[labels[i] for i in evaluation]}", flush=True)
        fold = train_fold(labels, data, tuning + evaluation, genera, families, seed)
        prepared.append(prepare(fold, tuning, evaluation))
    rows = sweep(prepared, genera, families)
    allowed = [r for r in rows if r["val_drop"] <= args.max_val_drop + 1e-9]
    chosen = max(allowed, key=lambda r: (r["tune_honest"], -r["val_drop"]))
    print(
        f"\nchosen on the tuning group: levels {chosen['levels']} "
        f"(tuning honest {chosen['tune_honest']:.1%}, "
        f"known-val species answers -{chosen['val_drop']:.1%})"
    )
    table = {}
    for name, levels in (
        ("softmax roll-up only (today)", None),
        ("open-set rule (chosen)", chosen["levels"]),
    ):
        ev, te = [], []
        for p in prepared:
            rule = None if levels is None else rule_from_similarities(p.similarities, levels)
            ev.append(shares(grade(p.fold, p.sig["evaluation"], rule, genera, families)))
            te.append(shares(grade(p.fold, p.sig["test"], rule, genera, families)))
        table[name] = {
            "evaluation_unknown": {k: float(np.mean([e[k] for e in ev])) for k in ev[0]},
            "known_test": {k: float(np.mean([t[k] for t in te])) for k in te[0]},
        }
    print(f"\n{'':32} | unknown species (evaluation group)           | known species (test)")
    print(f"{'rule':32} | wrong sp. | honest | wrong roll-up | rejected | right sp. | coverage | rejected")
    for name, r in table.items():
        u, k = r["evaluation_unknown"], r["known_test"]
        print(
            f"{name:32} | {u['wrong_species']:9.1%} | {u['honest']:6.1%} | {u['wrong_rollup']:13.1%} | "
            f"{u['rejected']:8.1%} | {k['species_right']:9.1%} | {k['coverage']:8.1%} | {k['rejected']:8.1%}"
        )
    print("\ntrade-off (tuning group honest vs known-val species answers lost), best per species level:")
    for level in LEVELS["species"]:
        best = max((r for r in rows if r["levels"]["species"] == level), key=lambda r: r["tune_honest"])
        print(
            f"  species level {level:5}: honest {best['tune_honest']:.1%}, wrong species "
            f"{best['tune_wrong_species']:.1%}, known-val species answers -{best['val_drop']:.1%}"
            f"  ({best['levels']})"
        )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "openset.json").write_text(
            json.dumps({"chosen": chosen, "table": table, "sweep": rows}, indent=2)
        )
        _plot(rows, chosen, args.out / "openset.png")
    return 0


def _plot(rows: list[dict], chosen: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r["val_drop"] * 100 for r in rows], [r["tune_honest"] * 100 for r in rows], s=8, alpha=0.5)
    ax.scatter([chosen["val_drop"] * 100], [chosen["tune_honest"] * 100], color="red", label="chosen")
    ax.set_xlabel("known species: correct species answers lost on val (points)")
    ax.set_ylabel("unknown species (tuning group): honest answers (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
