"""The kinds of question visitors ask that need more than the best-matching sentence: a reason for
"why", another species for a relation, a stage for "the caterpillar", a count for "how many", a
repaired question word, and candidates from a description scored on what an entry states."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.asks import asks, asks_for_other
from butterflyer.chat.describe import _pairs
from butterflyer.chat.text import repair_question_words, tokens
from butterflyer.chat.unknown import find_unknown


@pytest.mark.parametrize(("typed", "meant"), [
    ("wher do painted ladies go", "where do painted ladies go"),
    ("were does the blue morfo live", "where does the blue morfo live"),
    ("wat dose a monarch eat", "what does a monarch eat"),
    ("were they common last year", "were they common last year"),  # a real "were" stays
])
def test_question_words_are_repaired(typed: str, meant: str) -> None:
    assert repair_question_words(typed) == meant


def test_what_for_and_relations_are_recognised() -> None:
    assert "reason" in asks("what are the eyes on its wings for?")
    assert "relation" in asks("which moth looks like the atlas moth")
    assert "relation" not in asks("what does the caterpillar look like?")
    assert asks_for_other("which butterfly is a close relative of the apollo")
    assert not asks_for_other("why does it look like a leaf")


def test_why_is_answered_by_a_reason_or_not_at_all(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("why are monarchs poisonous to birds?")
    assert "milkweed" in reply.answer.lower()
    # the guide gives no reason for the colour: no description is passed off as one
    reply = tiny_engine.ask("why is the atlas moth reddish brown?")
    assert reply.status == "not_covered", reply.answer


def test_relation_names_another_species(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("which butterfly does the viceroy look like?")
    assert reply.status == "answered" and "monarch" in reply.answer.lower()


def test_kinship_of_two_named_species_gives_their_classification(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("is the painted lady related to the atlas moth?")
    assert {c.section for c in reply.citations} == {"overview"}
    assert "Nymphalidae" in reply.answer and "Saturniidae" in reply.answer


def test_a_stage_question_is_answered_about_that_stage(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("what does the monarch chrysalis look like?")
    assert "jade green" in reply.answer


def test_how_many_needs_a_number_that_counts_it(tiny_engine: ChatEngine) -> None:
    # "single eggs" is no count of the eggs a monarch lays
    assert tiny_engine.ask("how many eggs does a monarch lay?").status == "not_covered"


def test_a_word_the_guide_never_uses_is_not_answered_by_its_section(tiny_engine: ChatEngine) -> None:
    # "size" points at the wingspan, but the genome is what is asked about
    assert tiny_engine.ask("what is the genome size of the painted lady?").status == "not_covered"
    # a one-letter slip of a guide word is no such word
    assert tiny_engine.ask("what do monarch caterpilars eat?").status == "answered"


def test_a_short_typo_inside_a_two_word_name_links() -> None:
    from butterflyer.chat.guide import load_guide
    from butterflyer.chat.linking import SpeciesLinker

    guide = load_guide()
    vocab = {t for e in guide.species.values() for n in e.names() for t in tokens(n)}
    assert SpeciesLinker(guide, vocab).labels("is the luna moht nocturnal") == ["LUNA MOTH"]


def test_a_checklist_name_said_without_its_group_noun() -> None:
    # "cecropia moth" is on the checklist; "the cecropia" beside a covered species still names it
    found = find_unknown("how big does the polyphemus's cousin the cecropia get", [(4, 5)])
    assert found is not None and found.name.startswith("cecropia")
    assert find_unknown("is the brimstone the first butterfly of spring", []) is not None
    assert find_unknown("fire and brimstone", []) is None


def test_description_pairs_colour_with_part() -> None:
    assert ("red", "band") in _pairs(tokens("black butterfly with red bands and white spots"))
    assert ("orang", "tip") in _pairs(tokens("white butterfly with orange wing tips"))
    assert ("black", "strip") in _pairs(tokens("black and yellow stripes"))


def test_description_candidate_follows_the_stated_features(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("a reddish brown moth with see-through windows, what is it?")
    assert reply.citations and reply.citations[0].entry == "ATLAS MOTH"
    reply = tiny_engine.ask("salmon orange butterfly with black blotches and white spots near the tip")
    assert reply.citations and reply.citations[0].entry == "PAINTED LADY", reply.answer
