"""Turn 11 readings: asides beside a which-species question, two terms set side by side, moths against
butterflies, several names the guide lacks, English words that are no slips of names, and superlatives the
guide states in words."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.describe import asks_moth_or_butterfly, is_description
from butterflyer.chat.embed import english_words
from butterflyer.chat.frame import drop_tagged_aside, strip_frame
from butterflyer.chat.guide import read_guide
from butterflyer.chat.intent import parse_intent
from butterflyer.chat.linking import SpeciesLinker
from butterflyer.chat.plan import Query, compared_terms
from butterflyer.chat.superlatives import asked_est, asks_longest_lived
from butterflyer.chat.text import repair_question_words, stem, terms
from butterflyer.chat.unknown import find_unknown, more_unknown, not_covered_text

from .conftest import write_tiny_guide


@pytest.mark.parametrize(("text", "left"), [
    ("it isn't only the monarch that migrates, is it? which others make long journeys?",
     "which others make long journeys?"),
    ("which butterfly is found in the most places? it isn't the cabbage white, is it?",
     "which butterfly is found in the most places?"),
    ("which moth has the longest tails? my teacher says the luna moth", "which moth has the longest tails?"),
])
def test_an_aside_beside_a_which_species_question_is_set_aside(text: str, left: str) -> None:
    assert drop_tagged_aside(text) == left
    assert strip_frame(text) == left


@pytest.mark.parametrize("text", [
    # the only question is the tagged one
    "I thought it was a monarch at first! It isn't poisonous too, is it?",
    # the question refers back to the species the aside names
    "the common sootywing doesn't eat garden weeds, does it? which plants does its caterpillar use?",
    # the question asks about the named species, not which species
    "the little wood-satyr doesn't live out in open fields, does it? what sort of habitat should I look in?",
])
def test_an_aside_that_carries_the_subject_stays(text: str) -> None:
    assert drop_tagged_aside(text) == text


def test_two_terms_set_side_by_side() -> None:
    assert compared_terms("Batesian vs Müllerian mimicry - what's the difference?") == (
        "batesian mimicry", "mullerian mimicry")
    assert compared_terms("wats the difference between a chrysalis and a cocoon") == ("chrysalis", "cocoon")
    assert compared_terms("how big does a monarch get") is None


def test_both_definitions_answer_a_pair_of_terms(tmp_path: Path, encoder) -> None:  # noqa: ANN001
    root = write_tiny_guide(tmp_path / "guide")
    topic = {"id": "mimicry", "title": "Mimicry", "sources": ["A test reference: mimicry"], "sections": [
        {"heading": "Batesian mimicry", "text": "In Batesian mimicry, a harmless species copies the warning "
         "colours of a poisonous one. Predators learn to avoid the pattern."},
        {"heading": "Mullerian mimicry", "text": "In Mullerian mimicry, two poisonous species share one "
         "warning pattern. The monarch and the viceroy are a well-known pair."}]}
    (root / "topics" / "mimicry.yaml").write_text(yaml.safe_dump(topic, sort_keys=False), encoding="utf-8")
    engine = ChatEngine(guide=read_guide(root), encoder=encoder, index_root=tmp_path / "index")
    reply = engine.ask("batesian vs mullerian mimicry pls explain simply")
    assert [c.text.split(",")[0] for c in reply.citations] == ["In Batesian mimicry", "In Mullerian mimicry"]


@pytest.mark.parametrize(("text", "asks"), [
    ("New volunteer here - how do I tell a moth from a butterfly in the field?", True),
    ("How can I tell if the thing on my window at night is a moth or a butterfly?", True),
    ("moths are always brown and butterflies bright, I'm told. How does one tell them apart properly?", True),
    ("whats the difference between moths and butterflies", True),
    ("is the luna moth a moth or a butterfly", False),
    ("a brown moth with a butterfly-like body on my window, what is it?", False),
])
def test_how_to_tell_moths_from_butterflies(text: str, asks: bool) -> None:
    assert asks_moth_or_butterfly(text) is asks


def test_moths_against_butterflies_is_no_description() -> None:
    text = ("My grandson insists that moths are always brown and butterflies are always bright. "
            "How does one tell them apart properly?")
    assert not is_description(text)


def test_every_name_the_guide_lacks_is_named(tiny_guide_dir: Path) -> None:
    guide = read_guide(tiny_guide_dir)
    text = "how do I tell a silver-washed fritillary from a dark green fritillary"
    first = find_unknown(text, [])
    assert first is not None
    names = sorted([first, *more_unknown(text, [], first)], key=lambda u: u.start)
    assert [u.name for u in names] == ["silver washed fritillary", "dark green fritillary"]
    reply = not_covered_text(guide, "silver-washed fritillary", "dark green fritillary")
    assert "silver-washed fritillary or the dark green fritillary" in reply and "about them" in reply


def test_an_english_word_is_no_slip_of_a_name(tmp_path: Path) -> None:
    guide = read_guide(write_tiny_guide(tmp_path / "guide"))
    plain = SpeciesLinker(guide, set())
    careful = SpeciesLinker(guide, set(), words={"manarch", "monarchy"})
    assert plain.labels("a manarch on my window") == ["MONARCH"]
    assert careful.labels("a manarch on my window") == []
    # one letter on the end of the whole name is still the name
    assert careful.labels("what do monarchy caterpillars eat") == ["MONARCH"]


def test_english_words_come_from_the_packaged_vocabulary() -> None:
    words = english_words()
    assert {"frame", "window", "garden"} <= words
    assert "monark" not in words and "paintd" not in words


def test_superlatives_stated_in_words() -> None:
    assert asks_longest_lived("Which North American butterfly lives longest as an adult?")
    assert asks_longest_lived("what is the longest-lived butterfly")
    assert not asks_longest_lived("how long does it live")
    assert asked_est("which moth has the longest tails?") == ("longest", "tails")
    assert asked_est("how long are its tails") is None


def test_ranking_uses_the_words_of_the_clauses_that_ask() -> None:
    text = "How do migrating butterflies find their way? I want to see the autumn migration"
    q = Query(text=text, intent=parse_intent(text, terms(text)), targets=[], residual=terms(text))
    assert "autumn" in q.residual and "autumn" not in q.lex_words
    # a one-word tail is too little to go on
    tail = "it doesn't live very long once it comes out of the cocoon, does it? only days?"
    q = Query(text=tail, intent=parse_intent(tail, terms(tail)), targets=[], residual=terms(tail))
    assert q.lex_words == set(q.residual)


def test_a_doubled_consonant_before_an_ending_is_undone() -> None:
    assert [stem(w) for w in ("sitting", "spotted", "running")] == ["sit", "spot", "run"]
    assert [stem(w) for w in ("calling", "passed", "buzzing", "feeding")] == ["call", "pass", "buzz", "feed"]


def test_texting_y_for_why_starts_a_question() -> None:
    assert repair_question_words("y do birds leave this one alone") == "why do birds leave this one alone"
    assert repair_question_words("is it y or z") == "is it y or z"
