"""Issue 17, robustness to wording: sentence vectors, the sentence that stands out by meaning,
who-described questions, names that are on topic by their shape, and how candidates are graded."""

from __future__ import annotations

import numpy as np

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.asks import answers_ask, asks
from butterflyer.chat.evaluate import cross_species, is_correct, offered_as_candidates
from butterflyer.chat.intent import Intent
from butterflyer.chat.names import names_an_insect
from butterflyer.chat.plan import SEM_MARGIN, Query
from butterflyer.chat.reply import ChatReply, Citation
from butterflyer.chat.retrieve import Hit
from butterflyer.chat.schema import EvalQuestion


def test_index_holds_one_vector_per_sentence(tiny_engine: ChatEngine) -> None:
    index = tiny_engine.index
    assert index.sentence_vectors is not None
    assert len(index.sentence_vectors) == sum(len(c.sentences) for c in index.chunks)
    chunk = next(c for c in index.chunks if c.section == "identification")
    vec = tiny_engine.encoder.encode([chunk.sentences[0]])[0]
    sims = index.sentence_sims(vec)
    assert sims is not None and int(np.argmax(sims)) == index.sentence_start[chunk.id]


def _query(engine: ChatEngine, label: str, sims_at: dict[tuple[str, int], float]) -> tuple[Query, list[Hit]]:
    index = engine.index
    sims = np.zeros(len(index.sentence_vectors), dtype=np.float32)  # type: ignore[arg-type]
    for (cid, j), value in sims_at.items():
        sims[index.sentence_start[cid] + j] = value
    hits = [Hit(i, 1.0, 0.5, 0.0) for i in index.by_entry[label]]
    return Query(text="x", intent=Intent(), targets=[label], residual=[], sims=sims), hits


def test_semantic_pick_needs_a_clear_margin(tiny_engine: ChatEngine) -> None:
    planner = tiny_engine.planner
    chunks = {c.section: c for c in tiny_engine.index.chunks if c.entry == "MONARCH"}
    a, b = chunks["identification"].id, chunks["larval_host_plants"].id
    q, hits = _query(tiny_engine, "MONARCH", {(a, 0): 0.6, (b, 0): 0.6 - SEM_MARGIN - 0.01})
    assert planner.semantic_pick(q, hits) == (a, 0)
    q, hits = _query(tiny_engine, "MONARCH", {(a, 0): 0.6, (b, 0): 0.6 - SEM_MARGIN / 2})
    assert planner.semantic_pick(q, hits) is None
    # generated sentences (names, wingspan) never stand out by meaning alone
    q, hits = _query(tiny_engine, "MONARCH", {(chunks["overview"].id, 0): 0.9})
    assert planner.semantic_pick(q, hits) is None


def test_who_described_needs_a_describer() -> None:
    assert "author" in asks("who first described the red admiral and when")
    assert "author" in asks("when was the luna moth discovered")
    assert "author" not in asks("where does the red admiral live")
    assert answers_ask("The luna moth was described by Linnaeus in 1758.", ["author"])
    assert not answers_ask("In Britain the red admiral is seen mostly from May to October.", ["author"])


def test_who_described_is_refused_when_the_guide_does_not_say(tiny_engine: ChatEngine) -> None:
    assert tiny_engine.ask("who first described the monarch?").refused


def test_names_ending_in_a_group_word_are_on_topic() -> None:
    assert names_an_insect("clouded yellow") and names_an_insect("purple emperor")
    assert not names_an_insect("eiffel tower") and not names_an_insect("")


def _cite(n: int, entry: str) -> Citation:
    return Citation(n=n, entry=entry, entry_kind="species", entry_title=entry.title(),
                    section="identification", section_title="Identification", text=f"The {entry} is big.")


def test_candidates_are_not_cross_species_but_still_graded() -> None:
    q = EvalQuestion(question="huge brown moth", expect_any=["atlas"], about=["ATLAS MOTH"])
    worded = ChatReply(answer="From that description it is probably the Hercules moth: The HERCULES MOTH is "
                              "big. [1] To be sure, send a photo and I can identify it.",
                       citations=[_cite(1, "HERCULES MOTH")], candidates=True)
    assert offered_as_candidates(worded) and cross_species(q, worded) == []
    assert not is_correct(q, worded)  # a wrong candidate is still a wrong answer
    # the flag alone is not enough: the reply must be worded as a guess to be checked
    bare = worded.model_copy(update={"answer": "The HERCULES MOTH is big. [1]"})
    assert cross_species(q, bare) == ["HERCULES MOTH"]
    plain = worded.model_copy(update={"candidates": False})
    assert cross_species(q, plain) == ["HERCULES MOTH"]


def test_description_words_match_colours_and_compounds() -> None:
    from butterflyer.chat.describe import _base, _found, tells_looks

    assert _base("reddish") == "red" and _base("greenish") == "green" and _base("red") == "red"
    assert _found("eye", {"eyesp", "wing"}) and _found("reddish", {"red"})
    assert not _found("eye", {"wing"}) and not _found("ragwort", {"nettl"})
    assert tells_looks("shiny blue hindwings") and not tells_looks("its caterpillars")


def test_a_name_followed_by_looks_is_a_description(tiny_engine: ChatEngine) -> None:
    from butterflyer.chat.answer import _described
    from butterflyer.chat.unknown import Unknown

    assert _described("black swallowtail with shiny blue hindwings", Unknown("black swallowtail", 0, 2))
    assert not _described("what do black swallowtail caterpillars eat", Unknown("black swallowtail", 2, 4))
    assert not _described("where does the black swallowtail with blue spots live",
                          Unknown("black swallowtail", 3, 5))
    assert not _described("black swallowtail with its caterpillars", Unknown("black swallowtail", 0, 2))
