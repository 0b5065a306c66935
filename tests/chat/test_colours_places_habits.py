"""Rules added after the fourteenth and fifteenth blind dev files (issue 17, turn 10): colours, sizes and
places in descriptions, a general habit answering a species "why", verbs that are no names or name slips,
"a brimstone" in a butterfly message, "live on" and "which bush" as food, where a name comes from, claims
to check ("isn't it true that ..."), "..., is that ok?", "X or Y, how do I tell", "morning cloak", idioms
and wing parts."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.asks import asks
from butterflyer.chat.describe import hues, negated_hues, plain_description, size_fit
from butterflyer.chat.guide import load_guide
from butterflyer.chat.intent import parse_intent
from butterflyer.chat.linking import SpeciesLinker
from butterflyer.chat.measure import REGIONS
from butterflyer.chat.places import PLACE_REGIONS
from butterflyer.chat.text import tokens
from butterflyer.chat.unknown import find_unknown


def test_colour_words_name_hues_and_negated_ones_are_kept_apart() -> None:
    words = tokens("chocolate-brown with crimson spots and jade patches, no blue at all")
    assert hues(words) == {"brown", "red", "green"}
    assert negated_hues(words) == {"blue"}


def test_wing_words_and_comparisons_are_read_as_the_guide_writes() -> None:
    text = plain_description("red back wings, grey front wing, checkered, smaller than a monarch")
    assert "hindwings" in text and "forewings" in text and "chequered" in text
    assert "monarch" not in text


@pytest.mark.parametrize(("words", "span", "fit"), [
    ({"tiny"}, (89.0, 102.0), 0.75),   # a tiny monarch-sized butterfly does not fit
    ({"tiny"}, (32.0, 45.0), 1.0),
    ({"huge"}, (44.0, 51.0), 0.75),    # nor a huge atala-sized one
    ({"huge"}, (None, 250.0), 1.0),
    ({"tiny", "big"}, (89.0, 102.0), 1.0),  # contradictory words say nothing
    ({"tiny"}, None, 1.0),             # no wingspan: no evidence
])
def test_size_words_against_wingspans(words: set[str], span, fit: float) -> None:  # noqa: ANN001
    assert size_fit(words, span) == fit


def test_places_map_to_known_regions_and_never_to_a_species_name_word() -> None:
    assert set(PLACE_REGIONS.values()) <= set(REGIONS)
    assert PLACE_REGIONS["virginia"] == "north america" and PLACE_REGIONS["wiltshire"] == "britain"
    guide = load_guide()
    names = [n for e in guide.species.values() for n in [e.common_name, *e.other_names]]
    name_words = {w for n in names for w in tokens(n)}
    # (the new gazetteer's places; measure's region words were in names such as "African monarch" before)
    assert not {p for p in PLACE_REGIONS if " " not in p} & name_words - set(REGIONS) - {"america", "african"}


def test_a_verb_is_no_slip_of_a_name() -> None:
    linker = SpeciesLinker(load_guide())
    assert [m.label for m in linker.find("I wondered whether that is why")] == []
    assert [m.label for m in linker.find("the wanderer")] == ["MONARCH"]


@pytest.mark.parametrize(("message", "name"), [
    ("The first butterfly of the year in our garden was a brimstone. What does it eat?", "brimstone"),
    ("the lunar moth is the colour of a lime, she says", None),  # a fruit, not the lime hawk-moth
])
def test_a_listed_word_after_a_in_a_butterfly_message(message: str, name: str | None) -> None:
    found = find_unknown(message, [])
    assert (found.name if found else None) == name


def test_a_listed_word_after_a_beside_a_covered_name_is_a_comparison() -> None:
    assert find_unknown("how do I tell a Cleopatra from a brimstone?", [(5, 6)]) is None


def test_what_it_lives_on_is_its_food() -> None:
    intent = parse_intent("what do its caterpillars live on", [])
    assert "food" in intent.sections and "habitat" not in intent.sections
    assert "food" not in parse_intent("do they live on the island", []).sections


@pytest.mark.parametrize("text", ["how did it get its name", "where does the name Apollo come from",
                                  "how did the eighty-eight butterfly get that name"])
def test_where_a_name_comes_from(text: str) -> None:
    assert "origin" in asks(text)


def test_a_habit_of_butterflies_answers_a_species_why_its_entry_cannot(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("why do viceroys escape the cold")
    assert not reply.refused
    assert [c.entry_kind for c in reply.citations] == ["topic"]


@pytest.mark.parametrize(("typed", "left"), [
    ("Isn't it true that a monarch lives for a whole year?", "a monarch lives for a whole year?"),
    ("I read that butterflies taste with their feet. Is that right?", "butterflies taste with their feet?"),
    ("my teacher says insects have six legs. why four?", "insects have six legs. why four?"),
    ("the viceroy and the red-spotted purple are in the same genus right?",
     "the viceroy and the red-spotted purple are in the same genus?"),
    ("is it true?", "is it true?"),  # nothing would be left to ask
])
def test_a_claim_to_check_is_read_as_the_claim(typed: str, left: str) -> None:
    from butterflyer.chat.frame import strip_frame

    assert strip_frame(typed) == left


def test_a_clause_asking_about_the_one_before_takes_it_along() -> None:
    from butterflyer.chat.intent import asking_clauses

    assert "pick up the caterpillar" in asking_clauses("my kid wants to pick up the caterpillar, is that ok?")
    assert "defence" in asks(asking_clauses("pick up the caterpillar, is that ok?"))


@pytest.mark.parametrize(("text", "food"), [
    ("which bush do i need to look for to find them", True),
    ("what vine does it lay eggs on", True),
    ("what kind of place does it live in", False),
])
def test_a_plant_asked_for_is_a_food_plant(text: str, food: bool) -> None:
    assert ("food" in parse_intent(text, []).sections) == food


def test_x_or_y_how_do_i_tell_compares() -> None:
    assert parse_intent("monarch or viceroy how do i tell in a photo", []).compare
    assert not parse_intent("how do i tell if it is male", []).compare


def test_a_long_real_word_one_letter_from_a_name_word_is_a_slip() -> None:
    linker = SpeciesLinker(load_guide())
    assert [m.label for m in linker.find("a morning cloak today")] == ["MOURNING CLOAK"]
    assert [m.label for m in linker.find("the painted lady")] == ["PAINTED LADY"]


def test_idioms_in_the_guides_words() -> None:
    from butterflyer.chat.text import repair_question_words

    assert "far" in repair_question_words("it flies all the way to mexico")
    assert "threatened" in repair_question_words("is it in danger of dying out")


def test_wing_parts_make_a_description_and_a_butterfly_message() -> None:
    from butterflyer.chat.describe import is_description
    from butterflyer.chat.intent import DOMAIN
    from butterflyer.chat.text import stem

    assert is_description("something like a tiny hummingbird, greyish with orange hindwings")
    assert stem("hindwings") in DOMAIN
