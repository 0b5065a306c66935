"""A question keeps its answer when a visitor wraps it: a greeting, a "quick question -", a story
sentence before it, "my daughter wants to know", "homework question", "true or false:" (issue 17,
turn 9: found by rewriting every dev question this way and checking the answer still holds)."""

from __future__ import annotations

import pytest

from butterflyer.chat.frame import strip_frame
from butterflyer.chat.intent import asking_clauses
from butterflyer.chat.names import NameShapes, Span
from butterflyer.chat.text import clause_starts, tokens


def test_clause_starts_follow_marks_not_hyphens() -> None:
    text = "hi there! quick question - painted lady: host plants, please"
    words = tokens(text)
    assert {words[k] for k in clause_starts(text)} == {"quick", "painted", "host", "please"}
    assert clause_starts("polygonia c-album and queen alexandra's birdwing") == set()


def test_a_name_never_runs_across_a_clause_mark() -> None:
    shapes = NameShapes({"PAINTED LADY": "butterfly"}, {"PAINTED LADY": {"painted", "lady"}},
                        {"painted", "lady", "host", "plants", "question"})
    message = "hi there! quick question - painted lady host plants"
    start = tokens(message).index("painted")
    assert shapes.find(message, [Span("PAINTED LADY", start, start + 2)]) is None
    # without the mark the words before the name still make a longer, different name
    glued = "hi there zorbex painted lady host plants"
    start = tokens(glued).index("painted")
    found = shapes.find(glued, [Span("PAINTED LADY", start, start + 2)])
    assert found is not None and found.name == "zorbex painted lady"


def test_story_clause_is_not_what_is_asked() -> None:
    message = "we were out walking yesterday and the kids got curious. luna moth range"
    assert asking_clauses(message) == "luna moth range"
    # a clause worded as a question still wins, and a lone clause is the whole message
    assert asking_clauses("we saw one on the nettles. what does it eat?") == "what does it eat"
    assert asking_clauses("luna moth range") == "luna moth range"


@pytest.mark.parametrize(("message", "question"), [
    ("my daughter wants to know what kind of place the adonis blue lives in",
     "what kind of place the adonis blue lives in"),
    ("homework question how big is a monarch butterfly", "how big is a monarch butterfly"),
    ("settle an argument between me and my husband why is the eastern comma called the hop merchant",
     "why is the eastern comma called the hop merchant"),
    ("true or false: the six-spot burnet only flies at night", "the six-spot burnet only flies at night"),
    ("explain like im 7 what is a chrysalis", "what is a chrysalis"),
    ("um hey butterflyer so like what do monarchs eat", "what do monarchs eat"),
    ("hi there! quick question - painted lady host plants", "painted lady host plants"),
    ("our class was wondering if luna moths eat", "luna moths eat"),
])
def test_frames_are_stripped(message: str, question: str) -> None:
    assert strip_frame(message) == question


@pytest.mark.parametrize("message", [
    "question mark butterfly food",      # a name, not a frame
    "like a monarch but smaller",        # a comparison, not filler
    "southern dogface food",             # "so" only as a whole word
    "well-known moths of europe",
    "hello",                             # nothing would be left to ask
    "homework help",
])
def test_words_that_only_look_like_frames_stay(message: str) -> None:
    assert strip_frame(message) == message


@pytest.mark.parametrize("wrap", [
    "hi there! quick question - {}",
    "we were out walking yesterday and the kids got curious. {}",
    "my son wants to know {}",
    "homework question: {}",
])
@pytest.mark.parametrize("question", [
    "what do monarch caterpillars eat",
    "where does the atlas moth live",
    "painted lady host plants",
])
def test_a_wrapped_question_keeps_its_answer(tiny_engine, wrap: str, question: str) -> None:  # noqa: ANN001
    plain = tiny_engine.ask(question)
    wrapped = tiny_engine.ask(wrap.format(question))
    assert not plain.refused
    assert wrapped.status == plain.status and wrapped.answer == plain.answer
