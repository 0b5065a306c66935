"""``benchmarks/bench_openset.py``: the leave-species-out folds and the grading, on synthetic features."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def bench(load_benchmark) -> ModuleType:  # noqa: ANN001
    return load_benchmark("bench_openset")


# 12 genera in 4 families; genera G0..G3 have three species each, the others one
GENERA = [f"G{g}" for g in range(4) for _ in range(3)] + [f"G{g}" for g in range(4, 12)]
FAMILIES = [f"F{int(g[1:]) % 4}" for g in GENERA]


def test_unknown_labels_are_fixed_by_the_seed_and_split_without_overlap(bench: ModuleType) -> None:
    tuning, evaluation = bench.choose_unknown(GENERA, FAMILIES, seed=0, siblings=4, total=10)
    assert (tuning, evaluation) == bench.choose_unknown(GENERA, FAMILIES, seed=0, siblings=4, total=10)
    assert not set(tuning) & set(evaluation) and len(tuning) + len(evaluation) == 10
    unknown = set(tuning) | set(evaluation)
    for idx in unknown:  # a multi-species genus always keeps a known sibling
        siblings = [i for i, g in enumerate(GENERA) if g == GENERA[idx] and i != idx]
        assert not siblings or any(s not in unknown for s in siblings)
    with_sibling = [i for i in unknown if GENERA.count(GENERA[i]) > 1]
    assert len(with_sibling) == 4
    assert bench.choose_unknown(GENERA, FAMILIES, seed=1, siblings=4, total=10) != (tuning, evaluation)


def clustered_splits(bench: ModuleType, seed: int, spread: float, val: int) -> dict[str, object]:
    """Pooled features around one centre per label: train, its mirror, val and test splits."""
    rng = np.random.default_rng(seed)
    n_labels, dim = len(GENERA), 32
    centres = rng.normal(size=(n_labels, dim))

    def split(per_class: int) -> object:
        ys = torch.arange(n_labels).repeat_interleave(per_class)
        x = torch.tensor(centres[ys.numpy()] + spread * rng.normal(size=(len(ys), dim)), dtype=torch.float32)
        return bench.Split(x, ys)

    return {"train": split(20), "train_mirrored": split(20), "val": split(val), "test": split(6)}


def test_a_fold_trains_on_known_labels_only_and_grades_every_photo(bench: ModuleType) -> None:
    n_labels = len(GENERA)
    data = clustered_splits(bench, seed=0, spread=0.3, val=6)
    tuning, evaluation = bench.choose_unknown(GENERA, FAMILIES, seed=0, siblings=4, total=10)
    unknown = tuning + evaluation
    fold = bench.train_fold([f"L{i}" for i in range(n_labels)], data, unknown, GENERA, FAMILIES, seed=0)
    assert fold.known == [i for i in range(n_labels) if i not in unknown]
    assert fold.probs["val"].shape[1] == len(fold.known)  # the head never saw an unknown label
    assert set(fold.truth["unknown"].tolist()) == set(unknown)
    plain = bench.grade(fold, bench.signals(fold, "test"), None, GENERA, FAMILIES)
    assert plain["total"] == 6 * len(fold.known)
    assert sum(v for k, v in plain.items() if k != "total") == plain["total"]
    assert plain["species_right"] / plain["total"] > 0.8  # well-separated known species are named
    # an unknown photo can never be a right species answer
    unknown_sig = bench.signals(fold, "unknown")
    assert bench.grade(fold, unknown_sig, None, GENERA, FAMILIES)["species_right"] == 0
    shares = bench.shares(plain)
    assert shares["coverage"] >= shares["species_right"]
    # the vectorised verdicts are exactly what the served decision says, photo by photo
    from butterflyer.serve.openset import decide, fit_openset
    from butterflyer.serve.rollup import decide as plain_decide

    truth = np.array([fold.known.index(int(t)) for t in fold.truth["val"]])
    rule = fit_openset(fold.bank, fold.feats["val"], truth, {"species": 0.3, "genus": 0.4, "family": 0.2})
    for name, sig in (("unknown", unknown_sig), ("test", bench.signals(fold, "test"))):
        fast = bench.verdicts(sig, rule, fold.thresholds)
        plain_fast = bench.verdicts(sig, None, fold.thresholds)
        for i, (probs, feats) in enumerate(zip(fold.probs[name], fold.feats[name], strict=True)):
            expected = "not_a_butterfly" if not sig.passed[i] else \
                decide(rule, fold.bank, probs, feats, fold.thresholds).roll.verdict
            assert fast[i] == expected
            if sig.passed[i]:
                sub = ([GENERA[k] for k in fold.known], [FAMILIES[k] for k in fold.known])
                assert plain_fast[i] == plain_decide(probs, *sub, fold.thresholds).verdict
    assert set(bench.verdicts(unknown_sig, rule, fold.thresholds)) - {"species"}  # the rule changed answers


def test_the_learned_rule_in_the_benchmark_is_the_served_decision(bench: ModuleType) -> None:
    n_labels = len(GENERA)
    data = clustered_splits(bench, seed=1, spread=0.6, val=8)
    tuning, evaluation = bench.choose_unknown(GENERA, FAMILIES, seed=0, siblings=4, total=10)
    labels = [f"L{i}" for i in range(n_labels)]
    fold = bench.train_fold(labels, data, tuning + evaluation, GENERA, FAMILIES, 0)
    prepared = bench.prepare(fold, tuning, evaluation)
    rule = prepared.served["all"]
    assert rule.kind == "learned_unknown"
    from butterflyer.serve.openset import decide

    for name in ("test", "evaluation"):
        sig = prepared.sig[name]
        fast = bench.flag_verdicts(sig, prepared.served_unknown["all"][name], rule.genus_similarity,
                                   rule.family_similarity, fold.thresholds)
        key = "unknown" if name == "evaluation" else name
        mask = np.isin(fold.truth[key], evaluation) if name == "evaluation" else np.ones(len(sig.top), bool)
        for i, (probs, feats) in enumerate(zip(fold.probs[key][mask], fold.feats[key][mask], strict=True)):
            served = decide(rule, fold.bank, probs, feats, fold.thresholds)
            assert fast[i] == ("not_a_butterfly" if not sig.passed[i] else served.roll.verdict)
            assert served.known_species == (not prepared.served_unknown["all"][name][i])
        truth = bench.truth_of(fold, sig, GENERA, FAMILIES)
        assert bench.fast_shares(fast, truth) == pytest.approx(
            bench.shares(bench.grade_verdicts(fold, sig, fast, GENERA, FAMILIES)))
    rows = bench.candidate_sweep([prepared], GENERA, FAMILIES, "learned[all]")
    assert {r["level"] for r in rows} == set(bench.FLAG_LEVELS)
    off = [r for r in rows if r["level"] == 0.0]
    assert all(r["val_drop"] == 0.0 and r["test_drop"] == 0.0 for r in off)  # flagging nothing costs nothing
    most = max(rows, key=lambda r: r["level"])
    assert most["val_drop"] > 0.0  # flagging half of known val costs species answers
    chosen = bench.choose(rows, 0.02)
    assert chosen["val_drop"] <= 0.02 + 1e-9
    separated = bench.separation([prepared])
    assert set(separated) == set(prepared.knownness["test"])
    assert all(0.0 <= v <= 1.0 for v in separated.values())


def test_auroc_is_the_share_of_known_unknown_pairs_ordered_right(bench: ModuleType) -> None:
    rng = np.random.default_rng(3)
    known, unknown = rng.integers(0, 6, 40).astype(float), rng.integers(0, 5, 30).astype(float)  # many ties
    pairs = [(1.0 if k > u else 0.5 if k == u else 0.0) for k in known for u in unknown]
    assert bench.auroc(known, unknown) == pytest.approx(np.mean(pairs))
    assert bench.auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0


def test_leave_out_targets_spread_a_left_out_label_over_its_kept_group(bench: ModuleType) -> None:
    left_out = {0, 3, 4, 12}  # G0 keeps two species, G1 keeps one, label 12 (G4) has no sibling
    targets = bench.leave_out_targets(len(GENERA), left_out, GENERA, FAMILIES)
    assert torch.allclose(targets.sum(dim=1), torch.ones(len(GENERA)))
    assert targets[:, sorted(left_out)].sum() == 0  # a left-out label is never a target
    for label in range(len(GENERA)):
        if label not in left_out:
            assert targets[label, label] == 1
    assert torch.allclose(targets[0, [1, 2]], torch.tensor([0.5, 0.5]))  # its genus' kept species
    assert targets[3, 5] == 1 and targets[4, 5] == 1  # G1's one kept species takes all
    family = [i for i, f in enumerate(FAMILIES) if f == FAMILIES[12] and i not in left_out]
    assert torch.allclose(targets[12, family], torch.full((len(family),), 1 / len(family)))
    assert targets[12].count_nonzero() == len(family)  # no genus sibling: its family


def test_an_ensemble_is_the_log_of_its_mean_probability(bench: ModuleType) -> None:
    torch.manual_seed(0)
    heads = [torch.nn.Linear(4, 3) for _ in range(3)]
    x = torch.randn(5, 4)
    expected = torch.stack([torch.softmax(h(x), 1) for h in heads]).mean(0)
    assert torch.allclose(torch.exp(bench.MeanProbability(heads)(x)), expected, atol=1e-6)


@pytest.mark.parametrize("heads", ["seeds", "leave-out"])
def test_ensemble_folds_train_on_known_labels_only(bench: ModuleType, heads: str) -> None:
    data = clustered_splits(bench, seed=1, spread=0.3, val=6)
    tuning, evaluation = bench.choose_unknown(GENERA, FAMILIES, seed=0, siblings=4, total=10)
    fold = bench.train_fold([f"L{i}" for i in range(len(GENERA))], data, tuning + evaluation, GENERA,
                            FAMILIES, seed=0, heads=heads, ensemble=3)
    assert fold.probs["test"].shape == (6 * len(fold.known), len(fold.known))
    assert np.allclose(fold.probs["test"].sum(axis=1), 1, atol=1e-5)
    named = np.array(fold.known)[fold.probs["test"].argmax(axis=1)]
    # still names known species; with 3 heads, one in three is taught to spread each label over its
    # kept siblings, so on these tight synthetic clusters some siblings tie (5 of 6 named right here)
    assert np.mean(named == fold.truth["test"]) > (0.9 if heads == "seeds" else 0.75)
