"""Mechanisms that make the planner generalise beyond the dev wording (issue 17, third round):
slips of question words, contractions without apostrophes, a short slip inside a name, size
questions only in a comparison, relatives from the taxonomy, a name word alone not making a
species question, and answer sentences chosen by what is asked (a name, a kind, a distance)."""

from __future__ import annotations

import pytest

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.asks import answers_ask, asks
from butterflyer.chat.guide import load_guide
from butterflyer.chat.intent import QUESTION_WORDS
from butterflyer.chat.kin import asks_relatives, relatives
from butterflyer.chat.linking import SpeciesLinker
from butterflyer.chat.measure import is_size_question
from butterflyer.chat.text import repair_question_words, repair_typos, tokens


@pytest.mark.parametrize(("typed", "meant"), [
    ("whats the mourning cloak caled in britain", "whats the mourning cloak called in britain"),
    ("zebra longwing posionous", "zebra longwing poisonous"),
    ("what do luna moths eat as adlts", "what do luna moths eat as adults"),
    ("can you help with my maths homework", "can you help with my maths homework"),  # no slip of "moths"
    ("write me a poem about love", "write me a poem about love"),  # too short to repair
])
def test_slips_of_question_words_are_repaired(typed: str, meant: str) -> None:
    assert repair_typos(typed, QUESTION_WORDS, {"mourning", "cloak", "zebra", "longwing", "luna"}) == meant


def test_a_word_the_guide_uses_is_never_repaired() -> None:
    assert repair_typos("is the caled moth here", QUESTION_WORDS, {"caled"}) == "is the caled moth here"


@pytest.mark.parametrize(("typed", "meant"), [
    ("whats a chrysalis", "what is a chrysalis"),
    ("why doesnt the luna moth have a mouth", "why does not the luna moth have a mouth"),
    ("wheres it from", "where is it from"),
])
def test_contractions_without_apostrophes_are_spelt_out(typed: str, meant: str) -> None:
    assert repair_question_words(typed) == meant


@pytest.mark.parametrize(("text", "size"), [
    ("orange butterfly with black veins but smaller and with a black line across the back wing", False),
    ("a bigger version of a cabbage white with green underneath", False),
    ("which one is smaller adonis blue or apollo", True),
    ("is the green hairstreak smaller than a peacock", True),
    ("whats the biggest moth in your guide", True),
])
def test_a_comparative_asks_about_size_only_in_a_comparison(text: str, size: bool) -> None:
    assert is_size_question(text) is size


def test_one_short_slip_in_a_multi_word_name_links_and_no_other_name_does() -> None:
    guide = load_guide()
    vocab = {t for e in guide.species.values() for n in e.names() for t in tokens(n)}
    linker = SpeciesLinker(guide, vocab)
    assert linker.labels("wher does the blu morpho live") == ["BLUE MORPHO"]
    assert linker.labels("what does the owl butterfly look like") == []  # not the 88 butterfly


def test_relatives_come_from_the_taxonomy_fields() -> None:
    guide = load_guide()
    zebra = relatives(guide, "ZEBRA LONG WING")
    assert zebra[0] == (None, ["ZEBRA LONG WING"])  # its own classification first
    assert zebra[1][1] == ["RED POSTMAN"] and "Heliconius" in (zebra[1][0] or "")
    # a subfamily of many species names none of them (which ones are closest is not in the fields)
    assert relatives(guide, "MOURNING CLOAK") == [(None, ["MOURNING CLOAK"])]
    mestra = relatives(guide, "MESTRA")
    assert set(mestra[1][1]) == {"AN 88", "RED CRACKER"} and "same subfamily" in (mestra[1][0] or "")
    assert relatives(guide, "BANDED PEACOCK") == []  # a mixed label has no one classification


@pytest.mark.parametrize(("text", "kin"), [
    ("what is the mourning cloak related to", True),
    ("who are its cousins", True),
    ("what does it mimic", False),
    ("which related species looks like it", False),
])
def test_relatives_questions(text: str, kin: bool) -> None:
    assert asks_relatives(text) is kin


def test_is_it_a_moth_wants_the_classification() -> None:
    assert "kind" in asks("is it a butterfly")
    assert "kind" in asks("is the comet moth a butterfly or a moth")
    assert answers_ask("The Madagascan sunset moth (Chrysiridia rhipheus) is a moth in the family Uraniidae.",
                       ["kind"])
    assert not answers_ask("The Madagascan sunset moth is also known as Sunset moth.", ["kind"])


def test_answers_are_chosen_by_what_is_asked(tiny_engine: ChatEngine) -> None:
    far = tiny_engine.ask("how far does it fly", "MONARCH")
    assert far.status == "answered" and "kilometres" in far.answer
    assert tiny_engine.ask("how fast can a monarch fly").refused  # a distance is no speed
    kind = tiny_engine.ask("is it a butterfly", "MONARCH")
    assert kind.citations and kind.citations[0].section == "overview" and "is a butterfly" in kind.answer
    named = tiny_engine.ask("is the atlas moth a butterfly")  # its classification, and nothing more
    assert [c.section for c in named.citations] == ["overview"] and "is a moth" in named.answer
    # the caterpillar section gives food plants, not a name: declined rather than padded
    assert tiny_engine.ask("what do people call its caterpillar", "MONARCH").status == "not_covered"


def test_a_name_word_alone_does_not_make_a_species_question(tiny_engine: ChatEngine,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """"What do hummingbirds eat": retrieval finds the hummingbird clearwing's food by its name word;
    the planner must not answer about that species (here "vanessas" plays the hummingbirds)."""
    from butterflyer.chat.intent import parse_intent
    from butterflyer.chat.plan import Query
    from butterflyer.chat.retrieve import Hit
    from butterflyer.chat.text import terms

    planner = tiny_engine.planner
    food = next(i for i, c in enumerate(planner.index.chunks) if c.id == "PAINTED LADY::larval_host_plants")
    monkeypatch.setattr(planner.retriever, "search", lambda *a, **k: [Hit(food, 1.0, 0.9, 1.0)])

    def plan(text: str):  # noqa: ANN202
        q = Query(text=text, intent=parse_intent(text, terms(text)), targets=[], residual=terms(text))
        return planner.general(q, tiny_engine.retriever.embed(text), False)

    assert plan("what do vanessas eat") == (None, True)
    answered, off_topic = plan("what do painted lady caterpillars thistles eat")
    assert answered is not None and not off_topic  # words beyond the name: answered as before


def test_filler_words_do_not_block_a_name_question(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("what else do people call the monarch")
    assert reply.status == "answered" and "Milkweed butterfly" in reply.answer


def test_related_to_a_named_species_from_a_species_page_compares_the_two(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("is it related to the monarch", "VICEROY")
    assert {c.entry for c in reply.citations} == {"VICEROY", "MONARCH"}


def test_what_eats_it_wants_its_enemies_not_its_food(tiny_engine: ChatEngine) -> None:
    assert "predator" in asks("what eats monarch butterflies") and "predator" not in asks("what does it eat")
    reply = tiny_engine.ask("what eats monarchs")
    assert reply.status == "answered" and "birds" in reply.answer  # its enemies, not its diet
    assert all(c.section != "adult_food" for c in reply.citations)


def test_how_long_it_lives_wants_a_span_of_time(tiny_engine: ChatEngine) -> None:
    # "... recolonises the north each year" holds a time word but no lifespan
    assert tiny_engine.ask("how long does a painted lady live").status == "not_covered"
