"""Turn 16 readings: the world checklist (scientific, local-language and caterpillar names) and its lookup
by word, local names typed as a run of unknown words, "not this one but ..." on a species page, and
covered names used for something else (a peacock's feathers, the Julia language)."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import default_engine
from butterflyer.chat.asks import asks
from butterflyer.chat.other_things import find_other_things
from butterflyer.chat.text import normalize, tokens
from butterflyer.chat.unknown import (
    _all_names,
    _candidates,
    _forms,
    _heads,
    _matches,
    as_typed,
    checklist,
    find_unknown,
)

MESSAGES = [
    "Is Papilio machaon the same as the old world swallowtail?",
    "the purple empror came down to the puddle",
    "Saw a peacock pansey sunning on the path near Chiang Mai",
    "how big is the atlas moth and does the cecropia moth get bigger",
    "large white caterpillars on my sprouts",
    "zebra swallow tail on the pawpaw",
    "what do monarchs eat",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_the_word_lookup_finds_every_match_that_trying_every_name_finds(message: str) -> None:
    toks = tokens(message)
    stems = [_forms(t) for t in toks]
    names = _all_names()
    brute = [(name, i) for name in names for i in range(len(toks) - len(name) + 1)
             if _matches(name, toks, stems, i)]
    found = [(name, i, bare) for name, i, bare in _candidates(toks, stems) if _matches(name, toks, stems, i)]
    assert [(name, i) for name, i, _ in found] == brute  # the same matches, in the same order
    listed = set(checklist())
    assert all(bare == (name not in listed and name[0] in _heads()) for name, _, bare in found)


def test_the_checklist_holds_scientific_local_and_caterpillar_names() -> None:
    names = {" ".join(name) for name in checklist()}
    assert {"papilio machaon", "oomurasaki", "tomato hornworm", "sau keo mua thu"} <= names
    assert len(names) > 2500


@pytest.mark.parametrize("message, name", [
    ("Is the Castalius rosimon on the jujube the same as the elbowed pierrot?", "castalius rosimon"),
    ("the tordeuse des bourgeons de l'épinette is back in our firs", "tordeuse des bourgeons de l epinette"),
    ("Saw a peacock pansey sunning on the path", "peacock pansey"),  # one slip in a five-letter word
])
def test_world_checklist_names_are_found(message: str, name: str) -> None:
    found = find_unknown(message, [])
    assert found is not None and found.name == name


@pytest.mark.parametrize("message", [
    "fat green caterpillar eating the oleander by our pool",
    "spiky black caterpillars in a web on the nettles",
    "caterpillars on the cucumber leaves, what butterfly are they",
])
def test_a_plant_a_moth_is_named_for_is_no_name_alone(message: str) -> None:
    assert find_unknown(message, []) is None


def test_one_word_short_names_come_from_butterfly_and_moth_names_only() -> None:
    heads = _heads()
    assert "cecropia" in heads
    assert not {"oleander", "nettle", "leek", "bumblebee"} & heads


def test_letters_without_an_accent_fold_to_ascii() -> None:
    assert tokens("rusałka pokrzywnik") == ["rusalka", "pokrzywnik"]
    assert normalize("Straße, Đà Lạt, iç, Søndre") == "strasse, da lat, ic, sondre"


@pytest.mark.parametrize("message, name, typed", [
    ("My maize is eaten by sâu keo mùa thu. Where?", "sau keo mua thu", "sâu keo mùa thu"),
    ("Not this one but rusałka pokrzywnik: does it breed on nettles?", "rusalka pokrzywnik",
     "rusałka pokrzywnik"),
    ("the Queen of Spain Fritillary", "queen of spain fritillary", "queen of spain fritillary"),
])
def test_a_name_is_given_back_as_typed_with_its_accents(message: str, name: str, typed: str) -> None:
    assert as_typed(message, name) == typed


@pytest.mark.parametrize("message, name", [
    ("wczoraj saw a mieniak tęczowiec on a forest road sucking at the mud, why does it drink from dung?",
     "mieniak tęczowiec"),
    ("the borboleta-da-praia from the restinga near Rio: is it still endangered?", "borboleta-da-praia"),
])
def test_a_run_of_unknown_lower_case_words_is_named_when_refused(tiny_engine, message: str,  # noqa: ANN001
                                                                 name: str) -> None:
    reply = tiny_engine.ask(message)
    assert reply.status == "not_covered" and name in reply.answer


def test_not_this_one_leaves_the_page_species_out(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("Not this one but modraszek ikar from my meadow near Kraków. "
                            "How do I tell the female from the male?", species_id="MONARCH")
    assert reply.status == "not_covered" and "modraszek ikar" in reply.answer and not reply.citations
    page = tiny_engine.ask("How do I tell the female from the male?", species_id="MONARCH")
    assert not page.refused  # the page's species is still the one asked about without it


@pytest.mark.parametrize("message", [
    # a covered name in another sense
    "Why do peacocks spread their tail feathers?",
    "My class asked why a peacock fans its tail. What is the reason?",
    "Is Julia faster than Python for crunching our garden rainfall data?",
    "Which Apollo mission first landed on the Moon, and who were the astronauts?",
    # other animals
    "Silver, wriggly, wingless insects in my kitchen cupboard - silverfish? How do I get rid of them?",
    "why do dragonflys have four wings",
    # things on the list of things named like butterflies
    "Spotted a small blue bird in Kerala, a birder said black-naped monarch. Do black-naped monarchs build "
    "cup nests?",
    "My grandfather learned to fly on a de Havilland Tiger Moth. What engine did it use?",
    "How do emperor penguins survive the Antarctic winter?",
])
def test_a_message_about_something_else_is_off_topic(message: str) -> None:
    reply = default_engine().ask(message)
    assert reply.status == "off_topic" and not reply.citations


@pytest.mark.parametrize("message, label", [
    ("why does the peacock butterfly have eyespots", "PEACOCK"),
    ("what do peacock caterpillars eat", "PEACOCK"),
    ("where do julia butterflies live", "JULIA"),
])
def test_the_butterfly_of_that_name_is_still_answered(message: str, label: str) -> None:
    reply = default_engine().ask(message)
    assert not reply.refused and label in {c.entry for c in reply.citations}


def test_a_name_someone_says_is_no_description(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("My calamansi tree is full of caterpillars that look like bird poop, my tita "
                            "says lime butterfly. Will they kill the tree?")
    assert reply.status == "not_covered" and "lime butterfly" in reply.answer


@pytest.mark.parametrize("message, span", [
    ("a birder friend said black-naped monarch. do black-naped monarchs build cup nests?", (4, 7)),
    ("which apollo 11 astronaut stayed in orbit", (1, 3)),
    ("my grandfather flew a de havilland tiger moth", (4, 8)),
])
def test_things_named_like_butterflies_are_found(message: str, span: tuple[int, int]) -> None:
    assert find_other_things(tokens(message))[0] == span


def test_a_person_s_name_that_begins_a_butterfly_s_is_no_listed_thing() -> None:
    reply = default_engine().ask("what does the Queen Victoria's birdwing look like")
    assert reply.status == "not_covered" and "queen victoria's birdwing" in reply.answer.lower()


def test_a_butterfly_named_beside_a_listed_thing_is_still_read() -> None:
    reply = default_engine().ask("is the monarch flycatcher named after the monarch butterfly?")
    assert reply.status != "off_topic"


@pytest.mark.parametrize("message, asked", [
    ("where on earth have they come from?", True),
    ("dae they come over fae somewhere else or are they born here?", True),
    ("where do these go for the winter?", True),
    ("where does it live?", False),
])
def test_where_a_butterfly_has_come_from_asks_if_it_is_a_migrant(message: str, asked: bool) -> None:
    assert ("resident" in asks(message)) == asked
