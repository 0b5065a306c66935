"""The learned open-set rule: signals, simulated unknowns, the combiner and the served decision."""

from __future__ import annotations

import numpy as np
import pytest

from butterflyer.errors import ModelError
from butterflyer.serve.openset import LEARNED_KIND, LabelledBank, OpenSetRule, decide, fit_learned_openset
from butterflyer.serve.openset_learn import Combiner, label_groups, simulated_unknowns, threshold_for_loss
from butterflyer.serve.openset_scores import SCORE_NAMES, ScoreBank, candidate_scores, class_top_means, hide
from butterflyer.serve.rollup import Thresholds

DIM = 48
N_GENERA = 6  # genera g0..g5, three species each, in two families
GENERA = [f"g{g}" for g in range(N_GENERA) for _ in range(3)]
FAMILIES = [f"f{int(g[1:]) % 2}" for g in GENERA]
THRESHOLDS = Thresholds(species=0.6, genus=0.6, family=0.6)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class World:
    """Nested clusters; the last species of every genus is unknown to the model (not in the head or bank)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        fam = {f: _unit(rng.normal(size=DIM)) for f in sorted(set(FAMILIES))}
        gen = {g: fam[f] + 0.7 * _unit(rng.normal(size=DIM)) for g, f in zip(GENERA, FAMILIES, strict=True)}
        self.centres = np.stack([gen[g] + 0.8 * _unit(rng.normal(size=DIM)) for g in GENERA])
        self.known = [i for i in range(len(GENERA)) if i % 3 != 2]
        self.unknown = [i for i in range(len(GENERA)) if i % 3 == 2]
        self.rng = rng

    def photos(self, species: int, n: int) -> np.ndarray:
        return _unit(self.centres[species][None] + 0.2 * self.rng.normal(size=(n, DIM)))

    def probs(self, feats: np.ndarray) -> np.ndarray:
        """A confident head over the known species only (a softmax of scaled cosine to their centres)."""
        logits = 25.0 * feats @ _unit(self.centres[self.known]).T
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def bank(self, per_class: int = 12) -> LabelledBank:
        rows = np.concatenate([self.photos(s, per_class) for s in self.known])
        labels = np.repeat(np.arange(len(self.known)), per_class)
        return LabelledBank(rows, labels, [GENERA[s] for s in self.known], [FAMILIES[s] for s in self.known])

    def split(self, species: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
        feats = np.concatenate([self.photos(s, n) for s in species])
        return feats, np.repeat(np.array(species), n)


@pytest.fixture
def world() -> World:
    return World()


def test_class_top_means_match_the_bank_and_hidden_labels_vanish(world: World) -> None:
    bank = world.bank()
    feats, _ = world.split(world.known[:3], 2)
    sims = feats @ bank.bank.T
    means = class_top_means(bank.scores, sims, 3)
    for i in range(len(feats)):
        for label in range(len(world.known)):
            assert means[i, label] == pytest.approx(bank.top_mean(sims[i], bank.rows_of_label[label], 3))
    probs = world.probs(feats)
    p, s = hide(probs, sims, bank.labels, [0, 5])
    assert np.allclose(p.sum(axis=1), 1.0) and (p[:, [0, 5]] == 0).all()
    hidden = class_top_means(bank.scores, s, 3)
    assert (hidden[:, [0, 5]] == -1.0).all() and np.allclose(hidden[:, 1], means[:, 1])
    scores = candidate_scores(bank.scores, p, s)
    assert set(scores) == set(SCORE_NAMES)
    assert (np.argmax(p, axis=1) != 0).all()  # a hidden label is never predicted


def test_signals_separate_an_unknown_sibling_from_a_known_species(world: World) -> None:
    bank = world.bank()
    known_feats, _ = world.split(world.known, 6)
    unknown_feats, _ = world.split(world.unknown, 6)
    k = candidate_scores(bank.scores, world.probs(known_feats), known_feats @ bank.bank.T)
    u = candidate_scores(bank.scores, world.probs(unknown_feats), unknown_feats @ bank.bank.T)
    for name in ("species_sim", "nearest_sim", "sim_margin", "knn_agree"):
        assert np.median(k[name]) > np.median(u[name]), name
    # the unknowns' genus mates are known: the genus signals stay high even though the species is new
    assert np.median(u["genus_mass"]) > 0.5


def test_label_groups_partition_the_labels_and_need_two_groups() -> None:
    groups = label_groups(11, 3, seed=4)
    assert sorted(i for g in groups for i in g) == list(range(11))
    assert max(map(len, groups)) - min(map(len, groups)) <= 1
    assert groups == label_groups(11, 3, seed=4) != label_groups(11, 3, seed=5)
    with pytest.raises(ModelError):
        label_groups(3, 1)


def test_simulated_unknowns_are_the_hidden_groups_photos(world: World) -> None:
    bank = world.bank()
    feats, species = world.split(world.known, 4)
    targets = np.array([world.known.index(int(s)) for s in species])
    x, unknown = simulated_unknowns(bank.scores, world.probs(feats), feats @ bank.bank.T, targets, groups=4)
    assert x.shape == (4 * len(targets), len(SCORE_NAMES))
    assert unknown.sum() == len(targets)  # every photo is hidden exactly once
    knn = SCORE_NAMES.index("knn_agree")
    assert x[unknown, knn].mean() < x[~unknown, knn].mean()


def test_threshold_for_loss_counts_the_lost_answers() -> None:
    logits = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -4.0])
    right = np.array([True, False, True, True, True, True, True, True, True, True])
    t = threshold_for_loss(logits, right, 0.2)  # two of ten photos may lose their answer
    assert ((logits >= t) & right).sum() == 2 and 2.0 < t <= 3.0 + 1e-9
    assert ((logits >= threshold_for_loss(logits, right, 0.0)) & right).sum() == 0
    assert (logits >= threshold_for_loss(logits, right, 1.0)).all()


def test_the_learned_rule_flags_unknowns_keeps_known_answers_and_round_trips(world: World) -> None:
    bank = world.bank()
    val, val_species = world.split(world.known, 15)
    targets = np.array([world.known.index(int(s)) for s in val_species])
    rule = fit_learned_openset(bank, world.probs(val), val, targets, THRESHOLDS.species,
                               max_species_loss=0.05, groups=4)
    assert rule.kind == LEARNED_KIND and rule.combiner is not None and rule.species_similarity == -1.0
    assert rule.fitted["simulated_unknown"] == len(targets)
    back = OpenSetRule.from_json(rule.to_json())
    assert back == rule

    def answers(feats: np.ndarray) -> list[str]:
        probs = world.probs(feats)
        return [decide(rule, bank, p, f, THRESHOLDS).roll.verdict for p, f in zip(probs, feats, strict=True)]

    test_known, _ = world.split(world.known, 15)
    test_unknown, _ = world.split(world.unknown, 15)
    known_answers, unknown_answers = answers(test_known), answers(test_unknown)
    assert np.mean([a == "species" for a in known_answers]) >= 0.85
    # the same head names nearly every unknown as a (wrong) species; the learned rule mostly does not
    plain = OpenSetRule(species_similarity=-1.0, genus_similarity=rule.genus_similarity,
                        family_similarity=rule.family_similarity)
    plain_species = np.mean([decide(plain, bank, p, f, THRESHOLDS).roll.verdict == "species"
                             for p, f in zip(world.probs(test_unknown), test_unknown, strict=True)])
    assert plain_species >= 0.5
    assert np.mean([a == "species" for a in unknown_answers]) <= plain_species - 0.2
    assert set(unknown_answers) <= {"species", "genus", "family", "unknown_species", "uncertain"}


def test_stored_forms_of_both_kinds_load_and_broken_ones_say_how_to_fix() -> None:
    old = {"kind": "class_neighbours", "species_similarity": 0.5, "genus_similarity": 0.4,
           "family_similarity": 0.3, "top": 3, "fitted": {}}
    rule = OpenSetRule.from_json(old)
    assert rule.combiner is None and rule.kind == "class_neighbours" and "combiner" not in rule.to_json()
    combiner = Combiner(("top_prob", "knn_agree"), (0.5, 0.5), (1.0, 2.0), (-1.0, -2.0), 0.1, 0.3)
    assert Combiner.from_json(combiner.to_json()) == combiner
    with pytest.raises(ModelError, match="fit-serving"):
        OpenSetRule.from_json({**old, "kind": LEARNED_KIND})
    with pytest.raises(ModelError, match="signals"):
        Combiner.from_json({**combiner.to_json(), "names": ["top_prob", "telepathy"]})
    with pytest.raises(ModelError, match="weights"):
        Combiner.from_json({**combiner.to_json(), "weights": [1.0]})
    scores = {"top_prob": np.array([0.9, 0.2]), "knn_agree": np.array([1.0, 0.0])}
    # log-odds by hand: (0.4 * -1) + (0.25 * -2) + 0.1 = -0.8 and (-0.3 * -1) + (-0.25 * -2) + 0.1 = 0.9
    assert np.allclose(combiner.logit(scores), [-0.8, 0.9])


def test_score_bank_genus_agreement_falls_back_to_the_label_without_a_genus() -> None:
    sb = ScoreBank(np.array([0, 0, 1, 1, 2, 2]), ["a", None, None])
    assert sb.same_genus[1, 1] and not sb.same_genus[1, 2] and not sb.same_genus[0, 1]


def test_asking_for_some_signals_gives_the_same_values_as_all(world: World) -> None:
    bank = world.bank()
    feats, _ = world.split(world.known + world.unknown, 2)
    probs, sims = world.probs(feats), feats @ bank.bank.T
    full = candidate_scores(bank.scores, probs, sims)
    for names in (("genus_mass",), ("knn_agree", "top_prob"), ("sim_margin",)):
        part = candidate_scores(bank.scores, probs, sims, names=names)
        assert list(part) == list(names)
        for name in names:
            assert np.array_equal(part[name], full[name])


def test_a_flagged_photo_rolls_up_only_to_groups_its_labels_can_claim() -> None:
    rng = np.random.default_rng(3)
    rows = _unit(rng.normal(size=(4, DIM)))
    bank = LabelledBank(np.repeat(rows, 3, axis=0), np.repeat(np.arange(4), 3), ["a", "a", None, None],
                        ["f", "f", "f", None])
    always = Combiner(("top_prob",), (0.0,), (1.0,), (0.0,), 1.0, 0.0)  # log-odds 1 >= 0: every photo unknown
    rule = OpenSetRule(species_similarity=-1.0, combiner=always)
    sure = Thresholds(species=0.5, genus=0.5, family=0.5)

    def verdict(probs: list[float], photo: int) -> tuple[str, str | None, bool]:
        out = decide(rule, bank, np.array(probs), rows[photo], sure)
        return out.roll.verdict, out.roll.name, out.known_species

    assert verdict([0.9, 0.05, 0.03, 0.02], 0) == ("genus", "a", False)  # confident, yet rolled up
    assert verdict([0.02, 0.03, 0.9, 0.05], 2) == ("family", "f", False)  # no genus: its family
    assert verdict([0.01, 0.01, 0.03, 0.95], 3) == ("unknown_species", None, False)  # neither: no group
    never = OpenSetRule(species_similarity=-1.0, combiner=always.with_threshold(2.0))  # log-odds 1 < 2
    out = decide(never, bank, np.array([0.01, 0.01, 0.03, 0.95]), rows[3], sure)
    assert (out.roll.verdict, out.roll.species_index, out.known_species) == ("species", 3, True)
