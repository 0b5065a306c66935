"""The open-set rule on synthetic features: clusters stand for species, genera and families."""

from __future__ import annotations

import numpy as np
import pytest

from butterflyer.errors import ModelError
from butterflyer.serve.openset import LabelledBank, OpenSetRule, decide
from butterflyer.serve.rollup import Thresholds

# four known species: A1, A2 in genus A (family F), B1 in genus B (family F), C1 in genus C (family G)
GENERA = ["A", "A", "B", "C"]
FAMILIES = ["F", "F", "F", "G"]
DIM = 64


def _direction(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=DIM)
    return v / np.linalg.norm(v)


@pytest.fixture
def world() -> dict[str, np.ndarray]:
    """Nested clusters: family centre -> genus centre -> species centre -> photos."""
    rng = np.random.default_rng(0)
    fam = {"F": _direction(rng), "G": _direction(rng)}
    gen = {g: fam[f] + 0.6 * _direction(rng) for g, f in (("A", "F"), ("B", "F"), ("C", "G"), ("D", "F"))}
    species = {
        name: gen[g] + 0.9 * _direction(rng)
        for name, g in (("A1", "A"), ("A2", "A"), ("B1", "B"), ("C1", "C"), ("A3", "A"), ("D1", "D"))
    }
    return species


def _photos(centre: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    x = centre[None] + 0.05 * rng.normal(size=(n, DIM))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _bank(world: dict[str, np.ndarray]) -> LabelledBank:
    rng = np.random.default_rng(1)
    rows = [_photos(world[name], 10, rng) for name in ("A1", "A2", "B1", "C1")]
    return LabelledBank(np.concatenate(rows), np.repeat(np.arange(4), 10), GENERA, FAMILIES)


def _probs(best: int, p: float, second: int | None = None) -> np.ndarray:
    probs = np.full(4, (1 - p) / 3)
    probs[best] = p
    if second is not None:
        probs[second] += probs[[i for i in range(4) if i not in (best, second)]].sum()
        probs[[i for i in range(4) if i not in (best, second)]] = 0.0
    return probs


RULE = OpenSetRule(species_similarity=0.8, genus_similarity=0.5, family_similarity=0.3)
THRESHOLDS = Thresholds(species=0.6, genus=0.6, family=0.6)


def test_a_known_species_is_named(world: dict[str, np.ndarray]) -> None:
    bank = _bank(world)
    photo = _photos(world["A1"], 1, np.random.default_rng(5))[0]
    out = decide(RULE, bank, _probs(0, 0.95), photo, THRESHOLDS)
    assert out.roll.verdict == "species" and out.roll.species_index == 0 and out.known_species
    assert out.relatives[0] == 0


def test_an_unknown_sibling_rolls_up_to_its_genus_even_when_the_softmax_is_sure(
    world: dict[str, np.ndarray],
) -> None:
    bank = _bank(world)
    photo = _photos(world["A3"], 1, np.random.default_rng(6))[0]  # genus A, species not in the bank
    probs = _probs(0, 0.93, second=1)  # the head is confident it is A1
    out = decide(RULE, bank, probs, photo, THRESHOLDS)
    assert not out.known_species
    assert (out.roll.verdict, out.roll.name) == ("genus", "A")
    # the plain softmax rule would have named A1: the open-set bar is what changed the answer
    loose = OpenSetRule(species_similarity=-1.0, genus_similarity=-1.0, family_similarity=-1.0)
    assert decide(loose, bank, probs, photo, THRESHOLDS).roll.verdict == "species"


def test_an_unknown_genus_rolls_up_to_the_family_not_to_a_wrong_genus(world: dict[str, np.ndarray]) -> None:
    bank = _bank(world)
    photo = _photos(world["D1"], 1, np.random.default_rng(7))[0]  # family F, a genus the model lacks
    out = decide(RULE, bank, _probs(2, 0.9, second=0), photo, THRESHOLDS)  # head says B1
    assert not out.known_species
    assert (out.roll.verdict, out.roll.name) == ("family", "F")


def test_far_from_everything_is_an_unknown_species(world: dict[str, np.ndarray]) -> None:
    bank = _bank(world)
    photo = _direction(np.random.default_rng(8))
    out = decide(RULE, bank, _probs(3, 0.9), photo, THRESHOLDS)
    assert out.roll.verdict == "unknown_species" and not out.known_species


def test_close_to_a_known_species_but_undecided_is_uncertain(world: dict[str, np.ndarray]) -> None:
    bank = _bank(world)
    photo = _photos(world["C1"], 1, np.random.default_rng(9))[0]
    out = decide(RULE, bank, np.array([0.3, 0.3, 0.05, 0.35]), photo, THRESHOLDS)
    assert out.known_species and out.roll.verdict == "uncertain"


def test_json_round_trip_and_bad_inputs(world: dict[str, np.ndarray]) -> None:
    back = OpenSetRule.from_json(RULE.to_json())
    assert back == RULE
    with pytest.raises(ModelError):
        OpenSetRule.from_json({"kind": "other", "species_similarity": 0.5})
    with pytest.raises(ModelError, match="labels"):
        LabelledBank(np.zeros((3, DIM)), np.array([0, 1]), GENERA, FAMILIES)
    with pytest.raises(ModelError, match="labels the model"):
        LabelledBank(np.zeros((2, DIM)), np.array([0, 9]), GENERA, FAMILIES)
    with pytest.raises(ModelError, match="features"):
        decide(RULE, _bank(world), _probs(0, 0.9), np.ones(DIM + 1), THRESHOLDS)


def test_a_rule_without_labelled_bank_rows_is_a_broken_fit_not_a_silent_skip() -> None:
    from butterflyer.serve.identify import stored_openset
    from butterflyer.serve.ood import OodGate
    from butterflyer.serve.ood_neighbours import NeighbourGate

    extra = {"serving": {"openset": RULE.to_json()}}
    unlabelled = OodGate(neighbours=NeighbourGate.fit(np.eye(4, DIM)))
    with pytest.raises(ModelError, match="fit-serving"):
        stored_openset(extra, unlabelled)
    labelled = OodGate(neighbours=NeighbourGate.fit(np.eye(4, DIM), labels=np.arange(4)))
    assert stored_openset(extra, labelled) == RULE
    assert stored_openset({}, labelled) is None  # fitted before the rule existed: plain roll-up


def test_bank_labels_survive_the_file_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from butterflyer.fileio import sha256_bytes
    from butterflyer.serve.ood_neighbours import GATE_FILE, NeighbourGate

    gate = NeighbourGate.fit(
        np.random.default_rng(0).normal(size=(6, DIM)), 0.4, labels=np.array([0, 0, 1, 1, 2, 3])
    )
    data = gate.bank_bytes()
    (tmp_path / GATE_FILE).write_bytes(data)
    back = NeighbourGate.from_json(gate.to_json(file_sha256=sha256_bytes(data)), tmp_path)
    assert back.labels is not None and back.labels.tolist() == [0, 0, 1, 1, 2, 3]
    assert NeighbourGate.from_json(NeighbourGate.fit(np.eye(3, DIM)).to_json(), None).labels is None


def test_precomputed_similarities_give_the_same_answer_and_nearest_labels_match_a_full_sort(
        world: dict[str, np.ndarray]) -> None:
    bank = _bank(world)
    rng = np.random.default_rng(11)
    for name, best in (("A1", 0), ("A3", 0), ("D1", 2), ("C1", 3)):
        photo = _photos(world[name], 1, rng)[0]
        plain = decide(RULE, bank, _probs(best, 0.9), photo, THRESHOLDS)
        shared = decide(RULE, bank, _probs(best, 0.9), photo, THRESHOLDS, sims=bank.bank @ photo)
        assert (plain.roll, plain.known_species, plain.relatives) == \
            (shared.roll, shared.known_species, shared.relatives)
        assert plain.species_similarity == pytest.approx(shared.species_similarity, abs=1e-6)
        sims = bank.bank @ photo
        full = list(dict.fromkeys(int(bank.labels[r]) for r in np.argsort(-sims)))[:3]
        assert list(bank.nearest_labels(sims, 3)) == full
