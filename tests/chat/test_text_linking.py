"""Sentence splitting, BM25, species linking and intent parsing (no model needed)."""
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.chat.bm25 import BM25
from butterflyer.chat.chunks import build_chunks
from butterflyer.chat.guide import read_guide
from butterflyer.chat.intent import parse_intent
from butterflyer.chat.linking import SpeciesLinker
from butterflyer.chat.text import split_sentences, terms


def test_split_sentences_keeps_abbreviations() -> None:
    text = "The monarch (D. plexippus) is orange. It flies c. 4,000 km, e.g. to Mexico. Really? Yes."
    assert split_sentences(text) == ["The monarch (D. plexippus) is orange.",
                                     "It flies c. 4,000 km, e.g. to Mexico.", "Really?", "Yes."]


def test_bm25_prefers_rare_matching_terms() -> None:
    bm = BM25(["milkweed leaves feed caterpillars", "thistles and mallows", "milkweed milkweed nectar flowers"])
    scores = bm.scores("which caterpillars eat milkweed?")
    assert scores.argmax() == 0 and scores[1] == 0


@pytest.fixture()
def linker(tiny_guide_dir: Path) -> SpeciesLinker:
    guide = read_guide(tiny_guide_dir)
    vocab = {t for c in build_chunks(guide) for t in c.search_text.lower().replace(".", " ").split()}
    return SpeciesLinker(guide, vocab)


@pytest.mark.parametrize(("text", "labels"), [
    ("What does a monarch eat?", ["MONARCH"]),
    ("Tell me about MONARCHS", ["MONARCH"]),
    ("the monarch's caterpillar", ["MONARCH"]),
    ("Is Danaus plexippus poisonous?", ["MONARCH"]),
    ("milkweed butterfly range", ["MONARCH"]),
    ("painted ladies and viceroys", ["PAINTED LADY", "VICEROY"]),
    ("How big is the paintd lady?", ["PAINTED LADY"]),
    ("tell me about the monark", ["MONARCH"]),
    ("an atlas moth in my garden", ["ATLAS MOTH"]),
    ("What do butterflies eat?", []),
    ("Which lady sang?", []),
])
def test_linker_finds_species(linker: SpeciesLinker, text: str, labels: list[str]) -> None:
    assert linker.labels(text) == labels


def test_linker_does_not_fuzz_real_words(linker: SpeciesLinker) -> None:
    # "monarchy" is one edit from "monarch" but only OOV words are typo-corrected when they are long enough;
    # a vocabulary word such as "milkweeds" never becomes a species
    assert linker.labels("milkweeds grow in fields") == []


@pytest.mark.parametrize(("question", "section"), [
    ("What does its caterpillar eat?", "larval_host_plants"),
    ("What flowers do the adults visit for nectar?", "adult_food"),
    ("How big is it?", "wingspan"),
    ("Where is it found?", "distribution"),
    ("Is it endangered?", "conservation_status"),
    ("Which family is it in?", "overview"),
    ("How do I tell it apart from a viceroy?", "similar_species"),
    ("What does it look like?", "identification"),
])
def test_intent_sections(question: str, section: str) -> None:
    intent = parse_intent(question, terms(question))
    assert intent.sections and intent.sections[0] == section


def test_compare_and_domain_flags() -> None:
    assert parse_intent("difference between a monarch and a viceroy", []).compare
    assert not parse_intent("tell me about the monarch", []).compare
    assert parse_intent("why do butterflies migrate", terms("why do butterflies migrate")).on_domain
    assert not parse_intent("what is the capital of France", terms("capital France")).on_domain


def test_every_real_name_links_to_its_label() -> None:
    from butterflyer.chat.guide import load_guide

    guide = load_guide()
    vocab = {t for c in build_chunks(guide) for t in c.search_text.lower().split()}
    linker = SpeciesLinker(guide, vocab)
    wrong = [(label, name, linker.labels(f"Tell me about the {name} please"))
             for label, e in guide.species.items()
             for name in e.names()
             if linker.labels(f"Tell me about the {name} please") != [label]]
    assert wrong == []
