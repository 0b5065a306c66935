"""Answer focus: only sentences that bear on the question (the eval's answer precision), on the tiny guide."""

from __future__ import annotations

from butterflyer.chat.answer import ChatEngine


def _sections(reply) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(c.entry, c.section) for c in reply.citations]


def test_where_asks_for_the_range_not_the_habitat_too(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("where does the viceroy live?")
    assert reply.status == "answered"
    assert {s for _, s in _sections(reply)} == {"distribution"}, reply.answer


def test_what_kind_of_place_still_gets_the_habitat(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("what kind of habitat does the viceroy live in?")
    assert ("VICEROY", "habitat") in _sections(reply), reply.answer


def test_food_question_is_not_answered_by_a_sentence_that_names_no_food(tiny_engine: ChatEngine) -> None:
    # the viceroy entry has no adult food: its other sentences mention the adult but not what it eats
    reply = tiny_engine.ask("what do adult viceroys drink?")
    for c in reply.citations:
        assert c.section in {"larval_host_plants", "adult_food"} or "eat" in c.text, reply.answer


def test_the_caterpillars_looks_are_not_answered_by_its_food(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("what colour is the monarch chrysalis?")
    assert all(s not in {"larval_host_plants", "adult_food"} for _, s in _sections(reply)), reply.answer


def test_name_origin_questions_want_where_the_name_comes_from() -> None:
    from butterflyer.chat.asks import answers_ask, asks

    assert "origin" in asks("why is the cinnabar moth called that")
    assert "origin" in asks("which naturalist gave rajah brooke's birdwing its name")
    assert "origin" not in asks("what is the great eggfly also called")
    assert "origin" not in asks("who first described the red admiral")  # an authority, not a name's origin
    assert answers_ask("The cinnabar moth is named after cinnabar, a red mineral.", ["origin"])
    assert not answers_ask("The Cinnabar moth is also known as Cinnabar.", ["origin"])
