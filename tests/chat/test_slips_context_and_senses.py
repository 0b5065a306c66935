"""Turn 18 readings: checklist names typed by ear or cut short ("purple emporer", "holly blu") and named back
as typed; a covered name typed with slips keeps its own words; a species meant instead of the page's ("not
this one but the brimstone"); the visitor's own people and places as context, not as what is asked ("my
class", "in veracruz"); "fly in" that closes a where-question; and covered names in another sense (at sunset,
Cleopatra's death, the mineral cinnabar)."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import default_engine
from butterflyer.chat.asks import asks
from butterflyer.chat.unknown import _slip, _vowels_misheard, as_typed, checklist, find_unknown


@pytest.mark.parametrize("word, typed, slip", [
    ("emperor", "emporer", True),         # two vowels swapped by ear
    ("swallowtail", "swallowtale", True),  # same consonants in the same order
    ("emperor", "empror", True),          # one letter off
    ("emperor", "empress", False),        # other consonants
    ("emperor", "imperor", False),        # another first letter
    ("fritillary", "fritillery", True),
])
def test_a_slip_of_a_name_word(word: str, typed: str, slip: bool) -> None:
    assert _slip(word, typed) is slip


def test_vowels_misheard_needs_the_same_length_and_consonants() -> None:
    assert _vowels_misheard("purple", "porple")
    assert not _vowels_misheard("purple", "purples")
    assert not _vowels_misheard("swallowtail", "swallowtail")
    assert not _vowels_misheard("emperor", "embaror")  # a consonant changed too


@pytest.mark.parametrize("message, name", [
    ("purple emporer - where in the uk can i see one", "purple emporer"),
    ("holly blu flight period? i want the right month", "holly blu"),
])
def test_a_checklist_name_typed_by_ear_or_cut_short(message: str, name: str) -> None:
    """The span found is the words as typed (the refusal names them)."""
    found = find_unknown(message, [])
    assert found is not None and found.name == name


def test_a_cut_short_word_counts_only_at_the_end_of_a_name() -> None:
    assert find_unknown("the holl blue was out", []) is None


def test_a_slipped_checklist_name_inside_a_slipped_covered_name_is_the_covered_one() -> None:
    message = "afican giant swallowtale is it poisnous"
    assert find_unknown(message, []) is not None  # "giant swallowtale" alone is a slip of a listed name
    assert find_unknown(message, [], slipped_spans=[(0, 3)]) is None
    reply = default_engine().ask(message)
    assert not reply.refused
    assert {c.entry for c in reply.citations} == {"AFRICAN GIANT SWALLOWTAIL"}


def test_the_refusal_names_what_was_typed_not_its_repair() -> None:
    assert as_typed("the purpel emperor feeds on what?", "purple emperor") == "purpel emperor"
    assert as_typed("the Purple Emperor", "purple emperor") == "purple emperor"
    reply = default_engine().ask("Quiz question pasted: 'The purpel emperor is said to feed on what?'")
    assert reply.refused and "purpel emperor" in reply.answer


def test_a_species_meant_instead_of_the_page_makes_the_message_about_butterflies() -> None:
    message = ("not this one but the plain yellow one thats first out in spring, the brimstone, "
               "does it lay on buckthorn")
    assert find_unknown(message, []) is None
    found = find_unknown(message, [], other_meant=True)
    assert found is not None and found.name == "brimstone"
    reply = default_engine().ask(message, species_id="CLEOPATRA")
    assert reply.refused and "brimstone" in reply.answer


@pytest.mark.parametrize("message, page, fact, entry", [
    ("wat do monark catterpilars eat my class wants to raise some", None, "milkweed", "MONARCH"),
    ("whats the range of this one, do we get it in veracruz", "GIANT LEOPARD MOTH", "Mexico",
     "GIANT LEOPARD MOTH"),
    ("teacher here, where would my students find chalk hill blues, what kind of place", None, "grassland",
     "CHALK HILL BLUE"),
    ("it was drinking from rotten figs on the ground near porto is that normal for them", "RED ADMIRAL",
     "rotting fruit", "RED ADMIRAL"),
    ("which part of the world does the great jay fly in", None, "Southeast Asia", "GREAT JAY"),
])
def test_the_visitors_own_words_are_context(message: str, page: str | None, fact: str, entry: str) -> None:
    reply = default_engine().ask(message, species_id=page)
    assert not reply.refused and fact in reply.answer
    assert {c.entry for c in reply.citations} == {entry}


def test_a_word_the_guide_never_uses_still_blocks_when_it_is_what_is_asked() -> None:
    reply = default_engine().ask("how big is the genome of the monarch")
    assert reply.refused


def test_fly_in_closing_a_where_question_asks_where() -> None:
    assert "resident" not in asks("which part of the world does the great jay fly in")
    assert "resident" not in asks("what countries does it fly in?")
    assert "resident" in asks("does the painted lady live here all year or fly in?")


@pytest.mark.parametrize("message, page", [
    ("lo vi en sonora right at sunset drinking from flowers like a hummingbird. is it out at night or day",
     "WHITE LINED SPHINX MOTH"),
    ("how did cleopatra actually die was it really an asp", None),
    ("is cinnabar the mineral safe to keep in my rock collection", None),
])
def test_a_covered_name_in_another_sense(message: str, page: str | None) -> None:
    reply = default_engine().ask(message, species_id=page)
    cited = {c.entry for c in reply.citations}
    assert not cited - ({page} if page else set())


def test_the_sunset_moth_is_still_named_with_its_group_word() -> None:
    reply = default_engine().ask("where does the sunset moth live")
    assert {c.entry for c in reply.citations} == {"MADAGASCAN SUNSET MOTH"}


def test_central_european_names_are_listed() -> None:
    listed = {" ".join(name) for name in checklist()}
    assert {"batolec cerveny", "modraszek arion"} <= listed
    reply = default_engine().ask("batolec červený vs batolec duhový how to tell, saw one at the willow")
    assert reply.refused and "batolec červený" in reply.answer and "batolec duhový" in reply.answer


@pytest.mark.parametrize("message, page, named, not_named", [
    # the page's own name said before "not this one" is not refused as another species
    ("This one is rusałka pawik in Polish. Not this one but rusałka pokrzywnik: does it breed on nettles?",
     "PEACOCK", "rusałka pokrzywnik", "pawik"),
    # two capitalised words beside a listed name, with no known genus, are a place
    ("saw a mieniak tęczowiec on a forest road in Puszcza Białowieska sucking at the mud", None,
     "mieniak tęczowiec", "puszcza"),
    # a bracket parts a word from the binomial after it
    ("labelled the emerald-patched cattleheart (Parides sesostris). Is it poisonous?", None,
     "parides sesostris", "cattleheart (parides"),
    # another language's article is no word of the name
    ("Vannacht een groot avondrood in de val. What does its caterpillar eat?", None, "groot avondrood",
     "een groot"),
])
def test_the_refusal_names_only_the_species(message: str, page: str | None, named: str,
                                            not_named: str) -> None:
    reply = default_engine().ask(message, species_id=page)
    assert reply.refused and named in reply.answer and not_named not in reply.answer


@pytest.mark.parametrize("message, first, not_in", [
    ("whats the biggest blue butterfly", "blue morpho", "atala"),
    ("which blue butterfly is smallest", "Adonis blue", "brown argus"),  # "of the blue family" is brown
])
def test_a_colour_said_of_the_insect_ranks_by_its_look(message: str, first: str, not_in: str) -> None:
    reply = default_engine().ask(message)
    assert first in reply.answer and not_in not in reply.answer


def test_the_blues_are_still_the_group() -> None:
    from butterflyer.chat.guide import load_guide
    from butterflyer.chat.measure import asked_hue, mainly

    guide = load_guide()
    assert asked_hue("the biggest blue butterfly") == "blue"
    assert asked_hue("the biggest of the blues") is None
    assert mainly(guide.species["BLUE MORPHO"], "blue")
    assert not mainly(guide.species["POLYPHEMUS MOTH"], "blue")  # a blue ring in an eyespot


@pytest.mark.parametrize("message", [
    "peacock is indias national bird, why do they dance when it rains",
    "how did cleopatra actually die, was it really a snake",
    "randonnée dans l'atlas depuis marrakech en avril, trop froid?",
])
def test_more_other_senses(message: str) -> None:
    reply = default_engine().ask(message)
    assert reply.refused and not reply.citations


def test_a_local_name_with_its_own_article_takes_no_second_one() -> None:
    message = "c'est le citron qui vole en mars. does le citron sleep the winter as adult?"
    reply = default_engine().ask(message, species_id="CLEOPATRA")
    assert reply.refused and "no entry for le citron" in reply.answer
