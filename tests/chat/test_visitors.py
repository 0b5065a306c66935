"""Visitors' question kinds: species the guide lacks, size rankings, descriptions, answer focus; and the
eval's own measures (refusal naming, cross-species answers, answer precision, the frozen split)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.evalsplit import split_questions
from butterflyer.chat.evaluate import (
    EVAL_DIR,
    SPLITS,
    cross_species,
    is_correct,
    load_questions,
    precision_counts,
)
from butterflyer.chat.reply import ChatReply, Citation
from butterflyer.chat.schema import EvalQuestion
from butterflyer.chat.unknown import checklist, find_unknown


# --- species the guide does not cover -------------------------------------------------------
@pytest.mark.parametrize(("question", "name"), [
    ("What does the Queen Alexandra's birdwing eat?", "queen alexandra's birdwing"),
    ("where does the western tiger swallowtail live", "western tiger swallowtail"),
    ("how big is the goliath birdwing", "goliath birdwing"),
])
def test_species_not_in_guide_is_named_and_refused(tiny_engine: ChatEngine, question: str, name: str) -> None:
    reply = tiny_engine.ask(question)
    assert reply.status == "not_covered", reply.answer
    assert name in reply.answer.lower() and reply.citations == []


def test_guide_name_inside_a_longer_name_is_no_match() -> None:
    # "tiger swallowtail" (tokens 4-5) sits inside "western tiger swallowtail": the longer name wins
    found = find_unknown("where does the western tiger swallowtail live", [(4, 6)])
    assert found is not None and found.name == "western tiger swallowtail"
    # a whole guide name is not overridden by a shorter checklist name inside it
    assert find_unknown("what do eastern comma caterpillars eat", [(3, 5)]) is None
    # an ordinary word on the checklist counts only when a group noun follows it
    assert find_unknown("a gatekeeper at the park", []) is None
    assert find_unknown("a gatekeeper butterfly at the park", []) is not None


def test_checklist_never_names_a_guide_species() -> None:
    from butterflyer.chat.guide import load_guide
    from butterflyer.chat.text import tokens

    guide_names = {tuple(tokens(n)) for e in load_guide().species.values() for n in e.names()}
    assert not guide_names & set(checklist())


def test_suggestion_is_marked_as_one(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("What does the lesser wanderer eat?")
    assert reply.status == "not_covered"
    assert "lesser wanderer" in reply.answer.lower()


# --- sizes from the structured wingspan field --------------------------------------------------
def test_comparison_of_two_sizes_cites_both(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("is the viceroy smaller than the monarch?")
    assert reply.status == "answered"
    assert "monarch is larger than the viceroy" in reply.answer.lower()
    cited = {(c.entry, c.section) for c in reply.citations}
    assert cited == {("MONARCH", "wingspan"), ("VICEROY", "wingspan")}


@pytest.mark.parametrize(("question", "label"), [
    ("what's the biggest moth in your guide?", "ATLAS MOTH"),
    ("which is the largest butterfly?", "MONARCH"),
    ("smallest butterfly you cover", "PAINTED LADY"),
    ("largest butterfly in australia", "MONARCH"),
])
def test_superlatives_rank_wingspans(tiny_engine: ChatEngine, question: str, label: str) -> None:
    reply = tiny_engine.ask(question)
    assert [c.entry for c in reply.citations] == [label], reply.answer
    assert reply.citations[0].section == "wingspan"


# --- descriptions get candidates, worded as such ----------------------------------------------
def test_description_gets_a_candidate_and_asks_for_a_photo(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("Orange and black butterflies with black veins on milkweed, what are they?")
    assert reply.status == "answered"
    assert "probably the monarch" in reply.answer.lower() and "photo" in reply.answer.lower()
    assert reply.citations[0].entry == "MONARCH"


# --- the eval's measures ------------------------------------------------------------------------
def _cite(n: int, entry: str, section: str, text: str) -> Citation:
    return Citation(n=n, entry=entry, entry_kind="species", entry_title=entry.title(), section=section,
                    section_title=section, text=text)


def test_refusal_must_name_what_was_asked() -> None:
    q = EvalQuestion(question="What does the goliath birdwing eat?", refuse=True, mention="goliath")
    assert not is_correct(q, ChatReply(answer="My field guide doesn't cover that.", status="not_covered"))
    assert is_correct(q, ChatReply(answer="No entry for the goliath birdwing.", status="not_covered"))


def test_cross_species_and_precision() -> None:
    q = EvalQuestion(question="Why are monarchs poisonous?", expect_any=["milkweed"], about=["MONARCH"])
    reply = ChatReply(answer="Monarchs store milkweed toxins. [1] Monarchs migrate south. [2] "
                             "Viceroys eat willows. [3] To be sure, send a photo.",
                      citations=[_cite(1, "MONARCH", "facts", "Monarchs store milkweed toxins."),
                                 _cite(2, "MONARCH", "distribution", "Monarchs migrate south."),
                                 _cite(3, "VICEROY", "larval_host_plants", "Viceroys eat willows.")])
    assert is_correct(q, reply)
    assert cross_species(q, reply) == ["VICEROY"]
    # the uncited framing sentence is not counted; only the fact sentence bears on the question
    assert precision_counts(q, reply) == (1, 3)


def test_regex_facts() -> None:
    q = EvalQuestion(question="Which is bigger?", expect_any=["re:polyphemus[^.]{0,80}larger"])
    assert is_correct(q, ChatReply(answer="The polyphemus moth is larger than the luna moth. [1]"))
    assert not is_correct(q, ChatReply(answer="The luna moth is larger than the polyphemus moth. [1]"))
    with pytest.raises(ValueError, match="regex"):
        EvalQuestion(question="x", expect_any=["re:(unclosed"])


def test_heldout_split_is_frozen_and_reproducible() -> None:
    dev = load_questions(EVAL_DIR, "visitors_dev.yaml")["visitors_dev.yaml"]
    held = load_questions(EVAL_DIR, "visitors_heldout.yaml")["visitors_heldout.yaml"]
    assert len(dev) + len(held) >= 200 and abs(len(dev) - len(held)) <= 13
    again_dev, again_held = split_questions(dev + held)
    assert [q.question for q in again_held] == [q.question for q in held]
    assert [q.question for q in again_dev] == [q.question for q in dev]
    kinds = {q.kind for q in held}
    # the extra dev questions are outside the frozen pool, and dev reports them
    for name in ("visitors_extra_dev.yaml", "visitors_fresh_dev.yaml", "visitors_fresh2_dev.yaml"):
        extra = load_questions(EVAL_DIR, name)[name]
        assert not {q.question for q in extra} & {q.question for q in dev + held}, name
    assert {"visitors_dev.yaml", "visitors_extra_dev.yaml", "visitors_fresh_dev.yaml",
            "visitors_fresh2_dev.yaml"} <= set(
        load_questions(EVAL_DIR, SPLITS["dev"]))
    assert {"typo", "pronoun", "description", "why", "superlative", "not_covered", "off_topic"} <= kinds


def test_visitor_questions_name_real_labels() -> None:
    from butterflyer.chat.guide import load_guide

    labels = set(load_guide().species)
    for path in sorted(Path(EVAL_DIR).glob("visitors_*.yaml")):
        for item in yaml.safe_load(path.read_text()):
            for label in [item.get("species"), *(item.get("about") or [])]:
                assert label is None or label in labels, (path.name, item["question"], label)


def test_reply_lists_the_sources_of_cited_entries(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("What do monarch caterpillars eat?")
    assert reply.citations and [s.entry for s in reply.sources] == ["MONARCH"]
    assert reply.sources[0].references == ["A test reference: names and range"]
    assert tiny_engine.ask("What is the capital of France?").sources == []
