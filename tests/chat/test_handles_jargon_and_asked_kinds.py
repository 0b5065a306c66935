"""Turn 14 readings: a forum reply's addressee, "how does the X work", a visitor's way round a butterfly
house, a "when" that asks no season, and the kinds of answer a question asks for (a bite, a sound, a
species complex, whose name it bears); name words that stop at a gap, and a part of an insect that is no
species' name."""

from __future__ import annotations

import pytest

from butterflyer.chat.asks import answers_ask, asks
from butterflyer.chat.chunks import Chunk
from butterflyer.chat.frame import strip_frame
from butterflyer.chat.intent import asking_clauses, asks_when
from butterflyer.chat.plan import defined_term, mentions_business
from butterflyer.chat.unknown import find_unknown


@pytest.mark.parametrize("message, stripped", [
    ("@Sam why do they sit on the wet mud?", "why do they sit on the wet mud?"),
    ("@moth_fan99: what does it eat", "what does it eat"),
    ("@Sam ok", "@Sam ok"),  # nothing left to ask: kept whole
])
def test_a_forum_addressee_is_a_frame(message: str, stripped: str) -> None:
    assert strip_frame(message) == stripped


@pytest.mark.parametrize("text, term", [
    ("how does the proboscis work", "proboscis"),
    ("What's the proboscis and how does it work?", "proboscis"),
    ("How does the proboscis actually work - is it a simple straw?", "proboscis"),
    ("how does it work", None),
    ("what is a proboscis", "proboscis"),
])
def test_how_a_part_works_asks_for_its_definition(text: str, term: str | None) -> None:
    assert defined_term(text) == term


@pytest.mark.parametrize("text, business", [
    ("where is the toilet from the butterfly house", True),
    ("is there a cafe in the butterfly house", True),
    ("I found a small brown moth in my bathroom, what is it?", False),
    ("where do they go in winter", False),
])
def test_a_visitors_way_round_is_no_guide_question(text: str, business: bool) -> None:
    assert mentions_business(text) is business


@pytest.mark.parametrize("text, season", [
    ("when does it fly", True),
    ("when can i see one", True),
    ("it made a hissing noise when i moved it. is that possible", False),
    ("when did the cabbage white arrive in north america", False),
    ("what does it do when threatened", False),
])
def test_a_when_that_asks_no_season(text: str, season: bool) -> None:
    assert asks_when(text) is season


@pytest.mark.parametrize("text, kind", [
    ("is it true the two barred flasher is actually several species", "split"),
    ("Is Astraptes fulgerator truly one species?", "split"),
    ("my daughter found one on the screen door can it bite her", "bite"),
    ("it made a hissing noise when I moved it", "sound"),
    ("who was the Brooke in its name", "origin"),
])
def test_the_kind_of_answer_asked_for(text: str, kind: str) -> None:
    assert kind in asks(text)


def test_answer_kinds_match_their_sentences() -> None:
    assert answers_ask("It is really a complex of at least ten similar species.", ["split"])
    assert answers_ask("Adults have no functional mouthparts and do not feed.", ["bite"])
    assert answers_ask("It makes a hissing sound by rubbing its wings together.", ["sound"])
    assert not answers_ask("It flies from May to July.", ["split", "bite", "sound"])


def test_a_bare_what_was_it_asks_about_the_clause_before() -> None:
    asked = asking_clauses("My old book calls Nymphalis antiopa by an English name - what was it?")
    assert "english name" in asked


def test_a_part_after_its_is_no_species_name() -> None:
    assert find_unknown("Why does the garden tiger flash its red underwings when poked?", []) is None
    found = find_unknown("what does the red underwing eat", [])
    assert found is not None and found.name == "red underwing"


def test_a_moth_without_a_mouth_cannot_bite(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("my daughter found one on the screen door can it bite her",
                            species_id="ATLAS MOTH")
    assert reply.status == "answered" and "mouthparts" in reply.answer


def test_name_words_stop_at_a_gap(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("why ppl keep thinking painted lady is a moth")
    assert "has no entry" not in reply.answer


def test_a_forum_reply_about_a_covered_species_is_answered(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("@Sam cool monarch photo! where does it live though?")
    assert reply.status == "answered" and "North America" in reply.answer


def test_two_questions_that_no_one_sentence_answers_get_both_answers(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("what does the monarch eat and how big is it")
    assert reply.status == "answered"
    assert "milkweed" in reply.answer and "89" in reply.answer


def test_a_part_of_two_that_is_about_buying_still_refuses_the_whole(tiny_engine) -> None:  # noqa: ANN001
    assert tiny_engine.ask("what does the monarch eat and where can I buy one").status != "answered"


def test_male_and_female_are_each_described(tiny_engine) -> None:  # noqa: ANN001
    def chunk(section: str, *sentences: str) -> Chunk:
        return Chunk(id=f"X::{section}", entry="X", entry_kind="species", entry_title="X", section=section,
                     section_title=section, sentences=sentences)

    look_alike = chunk("similar_species", "Females of the other species are paler than females of this one.")
    looks = chunk("identification", "The wings are orange.", "The female is brown.", "Males are blue.")
    ranked = [(0.9, look_alike, 0), (0.8, looks, 0), (0.7, looks, 1), (0.6, looks, 2)]
    plan = tiny_engine.planner._sexes(ranked)
    assert plan is not None
    assert [c.sentences[0] for c, _ in plan.parts] == ["The female is brown.", "Males are blue."]
    assert tiny_engine.planner._sexes(ranked[:3]) is None  # no sentence on the male


@pytest.mark.parametrize("message, name", [
    ("where can I see a purple empror in July", "purple empror"),
    ("gulf fritilary laying eggs on my passion vine", "gulf fritilary"),
])
def test_a_slip_in_one_long_word_of_a_listed_name_still_names_it(message: str, name: str) -> None:
    found = find_unknown(message, [])
    assert found is not None and found.name == name


def test_a_slip_in_a_one_word_listed_name_does_not_count() -> None:
    assert find_unknown("what does the cecropia eat? it's a moth", []) is not None
    assert find_unknown("what does the cecropla eat? it's a moth", []) is None


def test_a_question_about_other_animals_gets_no_butterfly_candidates(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("caught something at the pond with 4 see-through wings, "
                            "are dragonflies and damselflies the same thing?")
    assert reply.status == "off_topic" and not reply.candidates
    likeness = tiny_engine.ask("something like a tiny hummingbird hovering at the lavender, orange and black "
                               "wings. bird or bug?")
    assert likeness.status != "off_topic"


@pytest.mark.parametrize("message, name", [
    ("isnt the california dogface our state insect? what does it eat", "california dogface"),
    ("Found a Mother Shipton on the meadow today. Does it fly by day?", "mother shipton"),
    ("he calls the spiky caterpillar on his walnut a hickory horned devil", "hickory horned devil"),
    ("are oak processionary caterpillars dangerous", "oak processionary caterpillars"),
    ("is the black-veined white extinct in Britain", "black veined white"),
])
def test_the_checklist_names_species_the_guide_lacks(message: str, name: str) -> None:
    found = find_unknown(message, [])
    assert found is not None and found.name == name


@pytest.mark.parametrize("message", [
    "how does it spend the winter? it's a butterfly",  # "winter moth" makes no bare "winter"
    "a butterfly landed on the wall",
    "hundreds of pale silvery-blue butterflies on the downs",  # a look, not the silvery blue
    "orange butterfly black veins white dots around the edges",  # not the black-veined white
])
def test_everyday_words_and_looks_name_no_listed_species(message: str) -> None:
    assert find_unknown(message, []) is None


@pytest.mark.parametrize("text", [
    "where on the wing is the actual question mark? I'm drawing it",
    "where is the question mark on it, I cant see it",
])
def test_a_place_on_the_insect_asks_how_it_looks(text: str) -> None:
    from butterflyer.chat.intent import parse_intent

    sections = parse_intent(text, []).sections
    assert sections[0] == "identification" and "distribution" not in sections


def test_the_function_of_a_part_asks_why() -> None:
    assert "reason" in asks("Explain the function of its long hindwing tails.")
    assert find_unknown("where is the comma mark on it?", []) is None


@pytest.mark.parametrize("text, resident", [
    ("Does it live in Britain all year or does it fly in?", True),
    ("Does it stay in Britain all year or come from abroad?", True),
    ("does it fly in the daytime or only at night?", False),
])
def test_staying_or_arriving_is_asked(text: str, resident: bool) -> None:
    assert ("resident" in asks(text)) is resident


def test_all_year_is_no_lifespan() -> None:
    from butterflyer.chat.plan import _LIFESPAN_WORD

    assert not _LIFESPAN_WORD.search("does it live in britain all year")
    assert _LIFESPAN_WORD.search("does it live for a year")
