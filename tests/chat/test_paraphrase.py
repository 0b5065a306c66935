"""Mechanisms added for paraphrased visitor questions: descriptions that look like names, refusals
that name a species the guide lacks, the ask-form check and kinship by classification."""

from __future__ import annotations

from butterflyer.chat.answer import _described
from butterflyer.chat.asks import asks
from butterflyer.chat.describe import looks_qualified
from butterflyer.chat.kin import asks_relatives
from butterflyer.chat.text import tokens
from butterflyer.chat.unknown import Unknown, find_unknown


def test_looks_qualified_plain_insects_only() -> None:
    assert looks_qualified(tokens("fuzzy little moth"))
    assert looks_qualified(tokens("spiky black caterpillars"))
    assert not looks_qualified(tokens("cecropia moth"))          # a name word, not a look
    assert not looks_qualified(tokens("black witch moth"))       # "witch" is no -y adjective
    assert not looks_qualified(tokens("black swallowtail"))      # a group word, not a plain moth


def test_colour_list_before_a_checklist_name_is_a_description() -> None:
    message = "electric blue and black swallowtail from queensland"
    words = tokens(message)
    start = words.index("black")
    assert _described(message, Unknown("black swallowtail", start, start + 2))
    question = "where does the black swallowtail live"
    qw = tokens(question)
    assert not _described(question, Unknown("black swallowtail", qw.index("black"), qw.index("black") + 2))


def test_bare_checklist_word_is_named_only_when_refusing() -> None:
    assert find_unknown("where does the brimstone live", []) is None
    found = find_unknown("where does the brimstone live", [], refusing=True)
    assert found is not None and found.name == "brimstone"


def test_binomial_asks_for_the_scientific_name() -> None:
    assert "scientific" in asks("monarch butterfly binomial")


def test_relatives_by_descent_versus_lookalikes() -> None:
    assert asks_relatives("is the hummingbird hawk moth related to the white-lined sphinx")
    assert not asks_relatives("which butterfly looks like the monarch")


def test_engine_paraphrases(tiny_engine) -> None:  # noqa: ANN001
    # an off-topic-looking question about a name the guide lacks is refused naming it
    reply = tiny_engine.ask("tell me about the ringlet")
    assert reply.refused and "ringlet" in reply.answer.lower()
