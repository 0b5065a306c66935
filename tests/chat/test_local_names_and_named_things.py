"""Turn 15 readings: a species the guide lacks under a local name ("the oomurasaki"), a group word typed
as two words ("tortoise shell"), a non-English word before a listed name ("muga silkworm"), a name typed
twice, and things named after butterflies that are none ("butterfly pea", "butterflyfish")."""

from __future__ import annotations

import pytest

from butterflyer.chat.intent import about_other_animal, asks_about_other_animal, names_butterfly_thing
from butterflyer.chat.text import tokens
from butterflyer.chat.unknown import _split_compound, find_unknown, not_covered_text


@pytest.mark.parametrize("word, halves", [
    ("tortoiseshell", ("tortoise", "shell")),
    ("swallowtail", ("swallow", "tail")),
    ("hairstreak", ("hair", "streak")),
    ("glasswing", ("glass", "wing")),
    ("sapphire", None),  # no English second half after a first half of six letters
    ("monarch", None),
])
def test_a_group_word_splits_into_its_two_words(word: str, halves: tuple[str, str] | None) -> None:
    assert _split_compound(word) == halves


@pytest.mark.parametrize("message, name", [
    ("where does the small tortoise shell spend the winter", "small tortoise shell"),
    ("we found a compten tortoise shell hibernating in the shed, can it survive?", "compten tortoise shell"),
    ("For a school project I need the life cycle of the muga silkworm", "muga silkworm"),
    ("what leaves does the silkworm eat", "silkworm"),
    ("what do you feed a pet silkworm", "silkworm"),  # an English word before it is no part of the name
])
def test_listed_names_typed_apart_or_with_a_local_word(message: str, name: str) -> None:
    found = find_unknown(message, [])
    assert found is not None and found.name == name


def test_a_name_typed_twice_is_named_once(tiny_engine) -> None:  # noqa: ANN001
    text = not_covered_text(tiny_engine.guide, "blue oakleaf", "blue oakleaf")
    assert text.count("blue oakleaf") == 1 and "them" not in text


@pytest.mark.parametrize("message, name", [
    ("My grandmother in Japan loves the oomurasaki. How big is it and what do its caterpillars eat?",
     "oomurasaki"),
    ("My cousin touched a lagarta-de-fogo caterpillar and got hurt. Which moth does it turn into?",
     "lagarta-de-fogo"),
])
def test_a_local_name_after_an_article_is_refused_by_name(tiny_engine, message: str, name: str) -> None:  # noqa: ANN001
    reply = tiny_engine.ask(message)
    assert reply.status == "not_covered"
    assert name in reply.answer and not reply.citations


@pytest.mark.parametrize("message", [
    "what do the monarch caterpillars eat",
    "how far does the painted lady migrate",
])
def test_a_covered_name_after_an_article_is_still_answered(tiny_engine, message: str) -> None:  # noqa: ANN001
    assert tiny_engine.ask(message).status == "answered"


def test_a_name_typed_twice_with_a_look_is_no_description(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("My uncle photographed a blue oakleaf with its wings open. "
                            "How is the blue oakleaf different on its underside?")
    assert reply.status == "not_covered" and reply.answer.count("blue oakleaf") == 1


@pytest.mark.parametrize("message, meant", [
    ("how do i breathe in butterfly stroke", True),
    ("why does butterfly pea tea turn purple with lemon", True),
    ("i always get butterflies in my stomach before exams", True),
    ("is a butterfly knife legal in the UK", True),
    ("what is the plot of Madame Butterfly", True),
    ("which butterflies visit butterfly pea flowers", False),  # a butterfly besides the plant
    ("which butterflies visit my garden", False),
    ("what should I plant in a butterfly garden", False),
])
def test_things_named_after_butterflies(message: str, meant: bool) -> None:
    assert names_butterfly_thing(tokens(message)) is meant


def test_a_butterflyfish_is_another_animal() -> None:
    assert about_other_animal(tokens("what do butterflyfish eat on the reef"))


@pytest.mark.parametrize("message", [
    "We snorkelled in Kenya and saw a yellow butterflyfish. What do butterflyfish eat?",
    "My friend makes blue tea from butterfly pea flowers. Why does it change colour with lemon?",
])
def test_named_things_are_off_topic(tiny_engine, message: str) -> None:  # noqa: ANN001
    assert tiny_engine.ask(message).status == "off_topic"


@pytest.mark.parametrize("asked, other", [
    ("how do i identify caddisfly species", True),
    ("why do zebras have stripes", True),
    ("toxic to birds", False),  # a predator: part of a butterfly question
    ("why does it need ants to grow up", False),
    ("bird or bug", False),
])
def test_an_asking_clause_about_another_animal(asked: str, other: bool) -> None:
    assert asks_about_other_animal(tokens(asked)) is other


@pytest.mark.parametrize("message", [
    "I'm at the palace. Who was the last monarch of Madagascar and what happened to her?",
    "Saw an atlas beetle in Malaysia. How long can the males' horns be?",
    "Still on the monarch page, but my kids want to know: why do zebras have stripes?",
    "My moth trap fills up with caddisflies every night. How do I identify caddisfly species?",
])
def test_a_covered_name_for_another_thing_is_not_answered(tiny_engine, message: str) -> None:  # noqa: ANN001
    reply = tiny_engine.ask(message)
    assert reply.refused and not reply.citations


@pytest.mark.parametrize("message, label", [
    ("Is the Monarch Butterfly poisonous?", "MONARCH"),
    ("I saw monarchs today. Do birds eat monarchs?", "MONARCH"),
    ("how big is the atlas moth", "ATLAS MOTH"),
])
def test_the_species_itself_is_still_answered(tiny_engine, message: str, label: str) -> None:  # noqa: ANN001
    reply = tiny_engine.ask(message)
    assert not reply.refused and {c.entry for c in reply.citations} == {label}


def test_a_scientific_name_after_a_description_is_named(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("A black swallowtail with a green patch and red spots, labelled "
                            "Parides sesostris. Is it poisonous?")
    assert reply.status == "not_covered" and "parides sesostris" in reply.answer.lower()


@pytest.mark.parametrize("message, name", [
    ("A big brown-and-orange butterfly comes to the fallen fruit. Locals call it the mariposa del madroño. "
     "Does it eat the fruit?", "mariposa del madroño"),  # (named as typed, accent kept)
    ("My dill in Macon, Georgia is covered in caterpillars. My grandma always called 'em parsleyworms. "
     "What butterfly do parsleyworms turn into?", "parsleyworms"),
])
def test_a_name_it_is_called_is_refused_by_name(tiny_engine, message: str, name: str) -> None:  # noqa: ANN001
    reply = tiny_engine.ask(message)
    assert reply.status == "not_covered" and name in reply.answer
    assert "macon" not in reply.answer.lower()  # a place typed "Macon, Georgia" is no binomial


def test_a_name_called_beside_a_covered_species_is_still_answered(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("In Mexico people call the monarch la mariposa monarca. "
                            "What do its caterpillars eat?")
    assert reply.status == "answered" and {c.entry for c in reply.citations} == {"MONARCH"}


def test_the_checklist_order_is_the_same_in_every_process() -> None:
    from butterflyer.chat.unknown import checklist

    names = list(checklist())
    assert names == sorted(names, key=lambda t: (-len(t), t))


def test_a_listed_name_after_a_described_one_is_refused(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("Little black-and-white checkered skippers are all over the mallow in my "
                            "lawn and the app says common checkered skipper. "
                            "Do common checkered skippers stay all year?")
    assert reply.status == "not_covered" and "common checkered skipper" in reply.answer


def test_an_english_word_after_called_is_no_name(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("white butterflies all over me cabbages with black tips - "
                            "what be they called proper?")
    assert "proper" not in reply.answer
