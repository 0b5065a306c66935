"""Turn 12 readings: two questions in one message, a claim followed by "nonsense, right?", "when" as a
conjunction, a choice of life stages, either of two counted nouns, and a lifespan asked as a noun."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.chat.compound import join_replies, split_questions
from butterflyer.chat.intent import asking_clauses, asks_when, parse_intent
from butterflyer.chat.names import Span
from butterflyer.chat.plan import Query
from butterflyer.chat.reply import ChatReply, Citation, fully_grounded


@pytest.mark.parametrize(("text", "parts"), [
    ("What is the larval host plant, and is it true that ants look after the caterpillar?",
     ("What is the larval host plant", "is it true that ants look after the caterpillar?")),
    ("Hi! What does it eat? And where does it live?", ("Hi! What does it eat?", "And where does it live?")),
    ("where does it live and what does it eat", ("where does it live", "what does it eat")),
    # the context after the last question stays with it
    ("Where does it hide? What does it eat? We have oaks.",
     ("Where does it hide?", "What does it eat? We have oaks.")),
])
def test_two_questions_are_split(text: str, parts: tuple[str, str]) -> None:
    assert split_questions(text) == parts


@pytest.mark.parametrize("text", [
    "what does it eat",
    "is it a moth or a butterfly? how do I tell?",  # the second asks nothing of its own
    "Which butterfly is found in the most places? It isn't the cabbage white, is it?",  # a tag
    "I have oaks. Where does it hide? We never see it.",  # one question with context around it
    "what does it eat? where does it live? how big is it?",  # three questions: left whole
    "what's the difference between a monarch and a viceroy?",
])
def test_one_question_is_not_split(text: str) -> None:
    assert split_questions(text) is None


def _cite(n: int, entry: str, text: str) -> Citation:
    return Citation(n=n, entry=entry, entry_kind="species", entry_title=entry.title(), section="facts",
                    section_title="Facts", text=text)


def test_joined_replies_renumber_the_second_answer_and_skip_repeats() -> None:
    first = ChatReply(answer="Monarchs eat milkweed. [1]",
                      citations=[_cite(1, "MONARCH", "Monarchs eat milkweed.")])
    second = ChatReply(answer="Monarchs eat milkweed. [1] Monarchs migrate to Mexico. [2] They fly far. [3]",
                       citations=[_cite(1, "MONARCH", "Monarchs eat milkweed."),
                                  _cite(2, "MONARCH", "Monarchs migrate to Mexico."),
                                  _cite(3, "MONARCH", "They fly far.")])
    joined = join_replies(first, second, limit=1)
    assert joined.answer == "Monarchs eat milkweed. [1] Monarchs migrate to Mexico. [2]"
    assert [(c.n, c.text) for c in joined.citations] == [(1, "Monarchs eat milkweed."),
                                                        (2, "Monarchs migrate to Mexico.")]
    assert fully_grounded(joined)
    assert join_replies(first, first) == first  # nothing new to add


def test_each_of_two_questions_gets_its_answer(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("What do viceroy caterpillars eat, and where does the viceroy live?")
    assert "willows and poplars" in reply.answer and "Rocky Mountains" in reply.answer
    assert fully_grounded(reply)
    # asked alone, each half gets only its own answer
    assert "Rocky Mountains" not in tiny_engine.ask("What do viceroy caterpillars eat?").answer


@pytest.mark.parametrize(("text", "claim"), [
    ("Someone told me the queen butterfly is basically a monarch. Nonsense, right?",
     "someone told me the queen butterfly is basically a monarch"),
    ("my son says moths eat clothes, is that true?", "my son says moths eat clothes"),
    ("the viceroy tastes bad to birds, right?", "the viceroy tastes bad to birds"),
])
def test_a_truth_check_asks_about_the_claim_before_it(text: str, claim: str) -> None:
    assert asking_clauses(text) == claim


@pytest.mark.parametrize(("text", "asks"), [
    ("why is it so dull brown underneath when the top is that bright?", False),
    ("what does it do when threatened", False),
    ("when do they fly", True),
    ("how long do they live and when do they fly", True),
    ("i wonder when they fly", True),
])
def test_when_that_joins_clauses_asks_no_season(text: str, asks: bool) -> None:
    assert asks_when(text) is asks
    assert ("flight_period" in parse_intent(text, []).sections) is asks


def _query(text: str) -> Query:
    return Query(text=text, intent=parse_intent(text, []), targets=["MONARCH"], residual=[])


def test_a_choice_of_stages_names_no_stage() -> None:
    assert _query("In which stage does it pass the winter: egg, pupa or adult?").stage is None
    assert _query("where does the pupa spend the winter").stage == "pupa"


def test_either_counted_noun_may_be_counted_and_lifespan_is_a_span() -> None:
    q = _query("How many times in a year does it come back? I mean how many generations")
    assert q.counted == ["time", "generation"]
    assert _query("what is the lifespan of a monarch").asks_lifespan
    assert not _query("what is the wingspan of a monarch").asks_lifespan


def test_a_counted_answer_and_a_lifespan_sentence_answer(tiny_engine) -> None:  # noqa: ANN001
    assert "one or two weeks" in tiny_engine.ask("what is the lifespan of an atlas moth").answer
    assert "several generations" in tiny_engine.ask("how many generations do monarchs have").answer


@pytest.mark.parametrize(("text", "asked"), [
    ("does it fly in the day or by night?", True),
    ("day or night flier", True),
    ("is it nocturnal", True),
    ("Does it fly in the day so I could see it?", True),
    ("what does it eat during the day", False),
])
def test_when_in_the_day_it_flies_is_its_own_ask(text: str, asked: bool) -> None:
    from butterflyer.chat.asks import answers_ask, asks

    assert ("active_time" in asks(text)) is asked
    assert answers_ask("The moth flies by day and hovers at flowers.", ["active_time"])
    assert not answers_ask("The moth flies from May to September.", ["active_time"])


def test_two_named_species_asked_to_be_the_same_get_both_classifications(tiny_engine) -> None:  # noqa: ANN001
    from butterflyer.chat.kin import asks_same

    assert asks_same("is the viceroy the same thing as the monarch?")
    assert not asks_same("do they eat the same plants")  # no species word after "same"
    reply = tiny_engine.ask("Is the viceroy the same species as the monarch?")
    assert "Limenitis" in reply.answer and "Danaus" in reply.answer


def test_no_name_made_of_a_verb_or_an_adverb(tiny_engine) -> None:  # noqa: ANN001
    shapes = tiny_engine.shapes
    spans = lambda text: [Span(m.label, m.start, m.end) for m in tiny_engine.linker.find(text)]  # noqa: E731
    for text in ("why do gardeners hate viceroys so much?", "we love painted ladies",
                 "white wings floating slowly viceroy"):
        assert shapes.find(text, spans(text)) is None, text
    found = shapes.find("where does the tawny viceroy live", spans("where does the tawny viceroy live"))
    assert found is not None and found.name == "tawny viceroy"


def test_a_five_letter_slip_beside_a_long_exact_word_is_a_slip(tiny_guide_dir: Path) -> None:
    from butterflyer.chat.guide import read_guide
    from butterflyer.chat.linking import SpeciesLinker

    guide = read_guide(tiny_guide_dir)
    # every word a real word: "painted" (seven letters) is exact, "lads" (four) is too short a slip to trust,
    # "later" (five) is no slip of "lady" (two edits); "cosmopolitan" stands alone
    vocab = {"painted", "lads", "laser", "later", "ladle"}
    linker = SpeciesLinker(guide, vocab)
    assert linker.labels("a painted ladle on the wall") == []  # two edits away
    guide.species["ATLAS MOTH"].other_names.append("Painted lacey")
    linker = SpeciesLinker(guide, vocab | {"lacey", "laces"})
    assert linker.labels("where does the painted laces live") == ["ATLAS MOTH"]  # five letters, one edit


def test_a_question_on_that_keeps_the_claim_it_refers_to() -> None:
    from butterflyer.chat.frame import drop_tagged_aside

    text = "Our guide said Africa's biggest butterfly lives in the west. Which one is that?"
    assert drop_tagged_aside(text) == text


def test_a_checklist_name_typed_without_its_apostrophe_is_found() -> None:
    from butterflyer.chat.unknown import find_unknown

    for text in ("does the deaths head hawkmoth really squeak", "does the death's-head hawkmoth squeak"):
        found = find_unknown(text, [])
        assert found is not None and found.name.replace("'", "").startswith("death"), text


def test_apart_from_a_place_compares_nothing() -> None:
    intent = parse_intent("does it live anywhere apart from florida", [])
    assert not intent.compare and "similar_species" not in intent.sections
    assert "distribution" in intent.sections
    assert parse_intent("how do I tell it apart from the monarch", []).compare


def test_what_it_does_when_attacked_asks_for_its_defence() -> None:
    from butterflyer.chat.asks import answers_ask, asks

    assert "defence" in asks("What does it do if a bird grabs it?")
    assert answers_ask("When handled, it releases bad-tasting fluid.", ["defence"])


def test_living_for_months_asks_for_a_lifespan() -> None:
    assert _query("trivia said they can live for months as adults, is that true?").asks_lifespan
    assert not _query("where do they live in winter").asks_lifespan


def test_where_to_find_one_gets_the_range_and_the_kind_of_place(tmp_path: Path, encoder) -> None:  # noqa: ANN001
    from butterflyer.chat.answer import ChatEngine
    from butterflyer.chat.guide import read_guide

    from .conftest import write_tiny_guide

    guide = read_guide(write_tiny_guide(tmp_path / "guide"))
    # (a guide that uses the word "find", as the real one does: a word it never uses is what is asked)
    guide.species["PAINTED LADY"].facts.append("Painted ladies are easy to find on thistles.")
    engine = ChatEngine(guide=guide, encoder=encoder, index_root=tmp_path / "index")
    reply = engine.ask("where would I find a viceroy?")
    assert "east of the Rocky Mountains" in reply.answer and "wet meadows" in reply.answer
    assert "wet meadows" not in engine.ask("which countries is the viceroy found in?").answer
