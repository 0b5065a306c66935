"""Turn 17 readings: a butterfly word that names a place ("our butterfly house"), a life stage of another
insect ("caddisfly larvae") or something disowned ("not the butterfly"); checklist names typed with their
words split or run together ("jia can"); a listed name set against a covered one; mimicry asked between two
covered species; and covered names in another sense (a monarch on a coin, the Painted Ladies houses)."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import default_engine
from butterflyer.chat.asks import asks
from butterflyer.chat.intent import about_other_animal, disowned, lepidoptera_words_at
from butterflyer.chat.other_things import find_other_things
from butterflyer.chat.text import tokens
from butterflyer.chat.unknown import _joined_names, find_unknown


@pytest.mark.parametrize("message, at", [
    ("a visitor to our butterfly house asked about dragonflies", set()),
    ("my stream tank has caddisfly larvae", set()),
    ("the flycatcher bird, not the butterfly", set()),
    ("the butterfly house has a blue morpho butterfly", {6, 7}),
    ("moth larvae in the pantry", {0, 1}),
])
def test_where_a_message_speaks_of_a_butterfly_or_moth(message: str, at: set[int]) -> None:
    assert lepidoptera_words_at(tokens(message)) == at


@pytest.mark.parametrize("message, k, said", [
    ("not the cleopatra but the brimstone", 2, True),
    ("it was no moth", 3, True),
    ("never a butterfly in sight", 2, True),
    ("the cleopatra, not the brimstone", 1, False),
])
def test_a_word_said_not_to_be_meant(message: str, k: int, said: bool) -> None:
    assert disowned(tokens(message), k) is said


def test_another_insect_asked_about_in_a_butterfly_house_is_another_animal() -> None:
    assert about_other_animal(tokens("in our butterfly house, how do I tell a dragonfly from a damselfly"))
    assert not about_other_animal(tokens("do dragonflies eat butterflies in the butterfly house"))


@pytest.mark.parametrize("message", [
    "In Cairns I ticked a spectacled monarch, the flycatcher bird, not the butterfly. What does the "
    "spectacled monarch eat and does it migrate?",
    "Aquarium keeper: my stream tank has caddisfly larvae building cases out of gravel. Are caddisfly "
    "larvae safe with shrimp?",
    "A visitor to our butterfly house asked how to tell a dragonfly from a damselfly at rest. What's the "
    "quickest way?",
    "My photo shows a slender bright blue insect with its wings folded along its body on a reed - a "
    "damselfly? How is it different from a dragonfly?",
    "Which monarch is on a 1911 gold sovereign, and how much gold does it contain?",
    "Why are the Painted Ladies houses in San Francisco called that and can you go inside?",
    "when is the kings birthday long weekend, and who is the monarch now after the queen died",
    "Our museum has a polished malachite specimen. What gives the mineral malachite its green bands?",
    "Museum visitor: how long is the horn of the Hercules beetle, and is it the biggest beetle in the world?",
    "Who sings 'Moth to a Flame' with Swedish House Mafia?",
    "My moth orchid has stopped flowering. How do I get it to bloom again?",
    "Who was the last monarch of Italy and why did the monarchy end?",
    "Why does Spanish put an upside-down question mark at the start of a sentence?",
])
def test_a_message_about_something_else_is_off_topic(message: str) -> None:
    reply = default_engine().ask(message)
    assert reply.status == "off_topic" and not reply.citations


@pytest.mark.parametrize("message", [
    "do dragonflies eat butterflies",
    "why are moths drawn to a flame",
])
def test_a_plain_question_names_no_species(message: str) -> None:
    reply = default_engine().ask(message)
    assert "no entry for" not in reply.answer and "JULIA" not in {c.entry for c in reply.citations}


def test_the_other_name_written_as_a_name_is_still_the_species() -> None:
    reply = default_engine().ask("what does the Flame eat")
    assert {c.entry for c in reply.citations} == {"JULIA"}


def test_a_run_together_key_is_no_english_word_and_never_short() -> None:
    joined = _joined_names()
    assert "silvery" not in joined  # ("silver y")
    assert all(len(key) >= 6 for key in joined)
    assert "jiacan" in joined and "jinbanhuifengdie" in joined


@pytest.mark.parametrize("message, name", [
    ("my grandmother raised jia can on mulberry leaves", "jia can"),
    ("we saw jinban hui fengdie in the hills", "jinban hui fengdie"),
])
def test_a_listed_name_typed_with_other_spacing_is_found(message: str, name: str) -> None:
    found = find_unknown(message, [])
    assert found is not None and found.name == name


def test_a_listed_name_typed_as_listed_is_not_found_twice_by_its_spacing() -> None:
    # ("a black swallowtail-shaped butterfly" was turned down as a likeness, and "black swallow tail" is
    # the same name run together)
    message = "a black swallowtail-shaped butterfly with blue patches, what could it be?"
    assert find_unknown(message, []) is None


@pytest.mark.parametrize("message, species, names", [
    ("Not the orchard swallowtail, what about the lime butterfly? Tailless, chequered black and yellow, "
     "all over my citrus seedlings.", "ORCHARD SWALLOW", ["lime butterfly"]),
    ("The lime butterfly (Papilio demoleus) caterpillars are eating my lime leaves. Are they the same as "
     "the orchard swallowtail?", None, ["lime butterfly", "papilio demoleus"]),
    ("Is the monarca del sur (Danaus erippus) a separate species from the monarch?", "MONARCH",
     ["monarca del sur", "danaus erippus"]),
])
def test_a_listed_name_set_against_a_covered_one_is_named(message: str, species: str | None,
                                                           names: list[str]) -> None:
    reply = default_engine().ask(message, species_id=species)
    assert reply.status == "not_covered" and all(n in reply.answer.lower() for n in names)


def test_a_listed_word_after_a_covered_name_disowned_is_a_name() -> None:
    message = ("Hospital garden had a lemon-yellow one on the buckthorn - a brimstone? Not the Cleopatra on "
               "this page, there was no orange flush.")
    reply = default_engine().ask(message, species_id="CLEOPATRA")
    assert reply.status == "not_covered" and "brimstone" in reply.answer and not reply.citations


def test_a_name_on_the_underwings_of_a_covered_moth_is_its_wings() -> None:
    reply = default_engine().ask("why has the garden tiger got bright orange underwings?")
    assert not reply.refused and {c.entry for c in reply.citations} == {"GARDEN TIGER MOTH"}


@pytest.mark.parametrize("message", [
    "is the red-spotted purple copying the pipevine swallowtail?",
    "who's copying who, the pipevine swallowtail or the red spotted purple?",
])
def test_mimicry_between_two_species_is_the_guide_s_sentence_on_it(message: str) -> None:
    reply = default_engine().ask(message)
    assert "mimic" in reply.answer and not any(c.section == "similar_species" for c in reply.citations)


def test_copying_and_just_visiting_are_asks() -> None:
    assert "relation" in asks("which one is she copying")
    assert "resident" in asks("does it live in ireland or just visit?")


def test_a_listed_thing_is_never_another_inflection() -> None:
    assert find_other_things(tokens("red and black moth flying in the day")) == []
    assert find_other_things(tokens("moth flies in the shower drain")) == [(0, 2)]
