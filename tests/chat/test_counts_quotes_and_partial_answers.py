"""Turn 13 readings: a count or a quote is never part of a name, a likeness is no name, a species said
not to be the one seen is no subject, a comparative is no ranking, a region narrows the farthest
migrant, and a message whose second question the guide cannot answer still gets its first answer."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import _compared_with
from butterflyer.chat.asks import asks
from butterflyer.chat.describe import asks_moth_or_butterfly
from butterflyer.chat.intent import is_asking
from butterflyer.chat.measure import REGIONS, asks_superlative
from butterflyer.chat.reply import unanswered_part
from butterflyer.chat.superlatives import farthest_migrant
from butterflyer.chat.text import clause_starts, hyphen_suffixes, tokens
from butterflyer.chat.unknown import LIKENESS, find_unknown


def test_a_count_before_a_name_is_not_part_of_it(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("Count 20 painted ladies over a hayfield, 5 Aug. What do their caterpillars eat?")
    assert reply.status == "answered" and "thistles" in reply.answer


def test_words_joined_into_a_name_are_never_function_words(tiny_engine) -> None:  # noqa: ANN001
    # "at la" squashed is "atla", the stem of "atlas"
    assert tiny_engine.linker.labels("Saw one flashing through the understory at La Selva") == []
    assert tiny_engine.linker.labels("an atlas moth at la selva") == ["ATLAS MOTH"]


def test_an_opening_quote_starts_a_phrase() -> None:
    text = "My grandson Oscar insists 'moths only come out at night'. It's a moth."
    assert tokens(text).index("moths") in clause_starts(text)
    assert tokens("Alexandra's birdwing").index("s") not in clause_starts("Alexandra's birdwing")


def test_a_quoted_remark_is_not_read_as_a_name(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("Does it fly by day? My grandson Oscar insists 'moths only come out at night'.",
                            species_id="ATLAS MOTH")
    assert "has no entry" not in reply.answer


def test_a_likeness_joined_by_a_hyphen_names_no_species() -> None:
    shaped = "a black swallowtail-shaped butterfly with electric-blue patches, what could it be?"
    assert tokens(shaped).index("shaped") in hyphen_suffixes(shaped, LIKENESS)
    assert find_unknown(shaped, []) is None
    found = find_unknown("is the black swallowtail like a tiger swallowtail?", [])  # "like" without a hyphen
    assert found is not None and found.name == "black swallowtail"


@pytest.mark.parametrize(("text", "name", "denied"), [
    ("Brown butterfly on milkweed. Pretty sure it's not a monarch, so what is it?", "monarch", True),
    ("big orange butterfly, it wasn't a monarch though, what is it?", "monarch", True),
    ("Isn't the viceroy a kind of monarch? It's orange too.", "viceroy", False),  # a question, no denial
])
def test_a_species_said_not_to_be_the_one_seen(text: str, name: str, denied: bool) -> None:
    assert _compared_with(text, tokens(text).index(name)) is denied


def test_a_comparative_with_no_second_species_is_no_ranking(tiny_engine) -> None:  # noqa: ANN001
    assert not asks_superlative("how big is it across the wings? looked bigger than my hand")
    reply = tiny_engine.ask("how big is it across the wings? looked bigger than my hand",
                            species_id="VICEROY")
    assert "53" in reply.answer and "Atlas" not in reply.answer


def test_the_widest_range_is_not_the_widest_wings(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("Which butterfly has the widest range in the world?")
    assert "wingspan" not in reply.answer


def test_a_region_narrows_the_farthest_migration(tiny_engine) -> None:  # noqa: ANN001
    chunks, labels = tiny_engine.index.chunks, set(tiny_engine.guide.species)
    found = farthest_migrant(chunks, labels)
    assert found is not None and found[0].entry == "PAINTED LADY"
    # the painted lady's 12,000 km are placed across the Sahara, not in North America
    assert farthest_migrant(chunks, labels, REGIONS["north america"]) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("my son says the thing at the lamp was a moth not a butterfly - how do you tell?", True),
    ("a moth landed on my butterfly bush, how do I tell what it is?", False),
])
def test_moth_or_butterfly_named_in_a_claim_then_asked(text: str, expected: bool) -> None:
    assert asks_moth_or_butterfly(text) is expected


def test_an_adjective_before_name_still_asks_where_a_name_comes_from() -> None:
    assert "origin" in asks("where does the southern dogface get its odd name?")
    assert "origin" in asks("how did it get such an odd name")


def test_tasting_bad_asks_about_defence() -> None:
    assert "defence" in asks("do viceroys actually taste bad to birds or is it just bluffing")
    assert "defence" not in asks("how do butterflies taste their food")


def test_a_question_may_open_with_a_filler() -> None:
    assert is_asking("yeah so what actually happens inside a chrysalis")
    assert is_asking("um where does it live")


def test_one_of_two_questions_is_answered_when_the_guide_lacks_the_other(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("What is the genome size of the atlas moth? And what do its caterpillars eat?")
    assert reply.status == "answered"
    assert "citrus" in reply.answer and reply.answer.endswith(unanswered_part("first"))
    # a message about buying or visiting is still declined as a whole
    shop = tiny_engine.ask("What is the genome size of the atlas moth? And what does a live one cost in the "
                           "shop?")
    assert shop.status == "not_covered" and "question" not in shop.answer


def test_buying_in_the_context_is_not_what_is_asked(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("the garden centre sells kits for this one - what do its caterpillars eat?",
                            species_id="MONARCH")
    assert reply.status == "answered" and "milkweed" in reply.answer
    assert tiny_engine.ask("where can I buy monarch caterpillars?").status == "not_covered"


def test_a_capitalised_word_after_in_or_at_is_a_place(tiny_engine) -> None:  # noqa: ANN001
    assert tiny_engine._name_like_unknown("Took photos in Bali. Any tips that won't harm them?") == []
    assert tiny_engine._name_like_unknown("what does the Zorro butterfly eat?") == ["zorro"]


def test_the_rest_of_a_name_typed_apart_is_part_of_the_mention(tiny_engine) -> None:  # noqa: ANN001
    from butterflyer.chat.linking import Mention

    mention = Mention("ATLAS MOTH", 0, 1, exact=True)
    assert tiny_engine._name_end(["atlas", "mo", "th", "live"], mention) == 3  # "moth" typed in two
    assert tiny_engine._name_end(["atlas", "caterpillars", "eat"], mention) == 1
