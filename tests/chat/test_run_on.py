"""Questions typed the way visitors type them, turn 9 (issue 17): a run-on question after a story
("a monarch landed on my balcony what do its caterpillars eat"), a plant named as food, the adult
after the cocoon, and words that only look like names ("the reason male luna moths", "laying eggs",
"a morpho's blue", "mahogany-brown"). Each was found by three blind dev files."""

from __future__ import annotations

import pytest

from butterflyer.chat.evaluate import names
from butterflyer.chat.frame import strip_frame
from butterflyer.chat.intent import asking_clauses
from butterflyer.chat.linking import SpeciesLinker
from butterflyer.chat.names import NameShapes, Span
from butterflyer.chat.text import tokens
from butterflyer.chat.unknown import find_unknown, more_unknown


def test_a_question_inside_a_run_on_message_is_what_is_asked() -> None:
    message = "a monarch landed on my balcony what do its caterpillars eat"
    assert asking_clauses(message) == "what do its caterpillars eat"
    assert asking_clauses("omg one landed on me 😍 what does it eat") == "what does it eat"
    # "what" that does not open a question stays inside its clause
    assert asking_clauses("i know what it is called") == "i know what it is called"


@pytest.mark.parametrize("message", ["excuse me, what do they eat",
                                     "for my project I need to know what do they eat",
                                     "for my biology project on mimicry: what do they eat"])
def test_polite_and_project_frames_are_stripped(message: str) -> None:
    assert strip_frame(message) == "what do they eat"


def _shapes() -> NameShapes:
    words = {"LUNA MOTH": {"luna", "moth"}, "CINNABAR MOTH": {"cinnabar", "moth"},
             "BLUE MORPHO": {"blue", "morpho"}}
    vocabulary = {"luna", "moth", "cinnabar", "blue", "morpho", "brown", "milkweed", "butterfly", "vanish",
                  "lands", "feathery", "antennae", "yellow", "black"}
    kinds = {"LUNA MOTH": "moth", "CINNABAR MOTH": "moth", "BLUE MORPHO": "butterfly"}
    return NameShapes(kinds, words, vocabulary, genera=["morpho"])


def _find(shapes: NameShapes, message: str, label: str, name: str):  # noqa: ANN202
    toks = tokens(message)
    parts = name.split()
    start = next(k for k in range(len(toks)) if toks[k:k + len(parts)] == parts)
    return shapes.find(message, [Span(label, start, start + len(parts))])


@pytest.mark.parametrize(("message", "label", "name"), [
    ("what's the reason male luna moths have such big feathery antennae?", "LUNA MOTH", "luna moths"),
    ("why are cinnabar caterpillars striped yellow and black like a wasp", "CINNABAR MOTH", "cinnabar"),
])
def test_words_about_the_question_or_a_life_stage_make_no_name(message: str, label: str, name: str) -> None:
    assert _find(_shapes(), message, label, name) is None


def test_possessives_shades_and_doings_make_no_name() -> None:
    shapes = _shapes()
    assert shapes.find("why does a morpho's blue vanish the moment it lands", []) is None
    assert shapes.find("a butterfly with black wingtips laying eggs on my kale", []) is None
    assert shapes.find("I saw a mahogany-brown milkweed butterfly in Arizona", []) is None
    # a real name of the same shape is still found
    found = shapes.find("where does the zorbex milkweed butterfly live", [])
    assert found is not None and "zorbex" in found.name


def test_a_checklist_name_never_spans_a_clause_mark() -> None:
    assert find_unknown("long tails, blue and orange eyespot near the tail", []) is None
    found = find_unknown("what does the long-tailed blue eat", [])
    assert found is not None


def test_an_everyday_word_is_no_slip_of_a_name(tiny_engine) -> None:  # noqa: ANN001
    linker: SpeciesLinker = tiny_engine.linker
    # "atlus" keeps the first letter: a slip; "matlas" would need a new first letter
    assert [m.label for m in linker.find("where does the atlus moth live")] == ["ATLAS MOTH"]
    assert linker.find("matlas") == []


def test_a_refusal_may_name_the_species_in_the_plural() -> None:
    assert names("gulf fritillary", "My guide has no entry for the gulf fritillaries.")
    assert names("brimstone", "no entry for brimstones")
    assert not names("gulf fritillary", "no entry for the variegated fritillary")


def test_run_on_questions_get_their_answer(tiny_engine) -> None:  # noqa: ANN001
    plain = tiny_engine.ask("what do monarch caterpillars eat")
    run_on = tiny_engine.ask("a monarch landed on my balcony what do its caterpillars eat")
    assert plain.status == run_on.status == "answered"
    assert "milkweed" in run_on.answer


def test_a_plant_named_as_food_finds_the_food_sentence(tiny_engine) -> None:  # noqa: ANN001
    reply = tiny_engine.ask("do viceroys go for willows or poplars?")
    assert reply.status == "answered" and "willow" in reply.answer
    assert all(c.section == "larval_host_plants" for c in reply.citations)


def test_the_adult_is_meant_after_the_cocoon(tiny_engine) -> None:  # noqa: ANN001
    from butterflyer.chat.intent import parse_intent
    from butterflyer.chat.plan import Query

    q = Query(text="how long does it live after it comes out of its cocoon", intent=parse_intent("", []),
              targets=["ATLAS MOTH"], residual=[])
    assert q.stage is None
    q = Query(text="how long does it stay in its cocoon", intent=parse_intent("", []), targets=[],
              residual=[])
    assert q.stage == "pupa"


def test_phrase_cues_match_whole_words() -> None:
    from butterflyer.chat.intent import parse_intent

    # "from a" asks how to tell one from another; "from abroad" does not
    assert "similar_species" in parse_intent("how do I tell it from a viceroy", []).sections
    assert "similar_species" not in parse_intent("does it come over from abroad", []).sections


def test_vs_between_two_things_of_one_species_is_no_lookalike_question() -> None:
    from butterflyer.chat.intent import parse_intent
    from butterflyer.chat.plan import Query

    def query(text: str, targets: list[str]) -> Query:
        return Query(text=text, intent=parse_intent(text, []), targets=targets, residual=[])

    assert not query("monarch lifespan summer generation vs migrating generation", ["MONARCH"]).compares
    assert query("monarch vs viceroy", ["MONARCH", "VICEROY"]).compares
    assert query("how do I tell it apart from the viceroy", ["MONARCH"]).compares
    # a comparison in the context, not in the clause that asks
    assert not query("how long do monarchs live? the fall migrants vs the summer ones", ["MONARCH"]).compares


def test_the_origin_asked_is_the_name_the_question_ends_on() -> None:
    from butterflyer.chat.plan import asked_name, explains_name

    british = "why do the british call the mourning cloak the camberwell beauty"
    assert asked_name(british) == "camberwell beauty"
    assert asked_name("why would anyone call a butterfly a mourning cloak") == "mourning cloak"
    assert asked_name("where does it live") == ""
    own = "The name mourning cloak likens the dark wings to the dark cloaks once worn in mourning."
    other = "The mourning cloak is called the Camberwell beauty in Britain, after a London district."
    assert explains_name(own, "mourning cloak") and not explains_name(own, "camberwell beauty")
    assert explains_name(other, "camberwell beauty") and not explains_name(other, "mourning cloak")


def test_a_colour_after_a_covered_name_is_said_of_it() -> None:
    shapes = NameShapes({"MONARCH": "butterfly"}, {"MONARCH": {"monarch"}}, {"monarch", "underneath"})
    message = "is the monarch yellow underneath"
    start = tokens(message).index("monarch")
    assert shapes.find(message, [Span("MONARCH", start, start + 1)]) is None


def test_a_question_naming_no_species_gets_no_second_species(tiny_engine) -> None:  # noqa: ANN001
    # the atlas moth's and the viceroy's food sentences rank almost level; only one may answer
    reply = tiny_engine.ask("do caterpillars eat leaves")
    entries = {c.entry for c in reply.citations if c.entry_kind == "species"}
    assert reply.status == "answered" and len(entries) == 1


def test_swapped_letters_are_put_right_against_the_guide_words() -> None:
    from butterflyer.chat.text import repair_swaps

    vocabulary = {"yellow", "florida", "queensland", "moths"}
    assert repair_swaps("bright ylelow moth from floirda", vocabulary) == "bright yellow moth from florida"
    assert repair_swaps("north queesnland", vocabulary) == "north queensland"
    # known words, short words and words two swaps away stay as typed
    assert repair_swaps("yellow mtohs lyelwo", vocabulary) == "yellow mtohs lyelwo"


@pytest.mark.parametrize(("message", "question"), [
    ("is the camberwell beauty the same as the mourning cloak? thanks so much!!",
     "is the camberwell beauty the same as the mourning cloak?"),
    ("what are the long tails for thanks so much!!", "what are the long tails for"),
    ("where does it live? cheers", "where does it live?"),
])
def test_thanks_at_the_end_are_stripped(message: str, question: str) -> None:
    assert strip_frame(message) == question


def test_a_thanks_question_is_kept() -> None:
    assert strip_frame("thank you") == "thank you"
    assert strip_frame("what does the word thanks mean") == "what does the word thanks mean"


def test_a_stated_superlative_is_found_by_its_adjective() -> None:
    from butterflyer.chat.chunks import Chunk
    from butterflyer.chat.superlatives import asked_most, most_stated

    assert asked_most("which one is supposed to be the most poisonous?") == "poisonous"
    assert asked_most("which butterfly is the most widespread") is None  # its own rule
    assert asked_most("what do most butterflies eat") is None
    chunk = Chunk(id="A::facts", entry="A", entry_kind="species", entry_title="A", section="facts",
                  section_title="Facts",
                  sentences=("A is often called the most toxic butterfly.", "A is orange."))
    assert most_stated([chunk], {"A"}, "poisonous") == [(chunk, 0)]
    assert most_stated([chunk], {"B"}, "poisonous") == []


def test_could_you_tell_me_is_a_frame_but_tell_me_about_asks() -> None:
    assert strip_frame("could you please tell me wheres the comet moth from") == "wheres the comet moth from"
    assert strip_frame("tell me about the monarch") == "tell me about the monarch"


def test_swapped_letters_in_names_the_guide_lacks_and_in_question_words(tiny_engine) -> None:  # noqa: ANN001
    # a checklist name typed with a swap is still refused by name, named as the visitor typed it (turn 18);
    # a swapped question word still asks
    reply = tiny_engine.ask("where does the glassiwng butterfly live")
    assert reply.status == "not_covered" and "glassiwng butterfly" in reply.answer.lower()
    assert tiny_engine.ask("wehres the monarch from").status == "answered"


def test_a_relation_the_covered_entry_states_is_answered_not_refused(tiny_engine) -> None:  # noqa: ANN001
    from butterflyer.chat.unknown import Unknown

    # the monarch's own text names the goldenrod; a relation question may be answered from it, a question
    # about the lacking one's own food or range may not
    mentions = tiny_engine.linker.find("is the monarch the same species as the goldenrod")
    related = "is the monarch the same species as the goldenrod"
    k = tokens(related).index("goldenrod")
    assert tiny_engine._related_in_guide(related, Unknown("goldenrod", k, k + 1), mentions)
    food = "what does the goldenrod eat, the one the monarch mimics"
    k = tokens(food).index("goldenrod")
    found = tiny_engine.linker.find(food)
    assert not tiny_engine._related_in_guide(food, Unknown("goldenrod", k, k + 1), found)
    other = "is the monarch the same species as the zorbex"
    k = tokens(other).index("zorbex")
    found = tiny_engine.linker.find(other)
    assert not tiny_engine._related_in_guide(other, Unknown("zorbex", k, k + 1), found)


def test_grader_reads_spelt_out_units_and_hyphenated_names() -> None:
    from butterflyer.chat.evaluate import has_fact
    from butterflyer.chat.schema import EvalQuestion

    q = EvalQuestion(question="how big", expect_any=["re:\\b2[5-8] ?cm"])
    assert has_fact(q, "Females can span about 27 centimetres.")
    assert not has_fact(q, "Females can span about 17 centimetres.")
    assert names("purple emperor", "My guide has no entry for the purple-emperor.")


def test_a_capitalised_checklist_word_is_a_name() -> None:
    message = "Glasswing (Greta oto) -- how are its wings see-through?"
    found = find_unknown(message, [])
    assert found is not None  # (its scientific name is listed too, and a longer name is tried first)
    assert "glasswing" in {found.name, *(u.name for u in more_unknown(message, [], found))}
    assert find_unknown("the glasswing effect in windows", []) is None


def test_talk_about_a_name_is_no_part_of_it() -> None:
    shapes = NameShapes({"MOURNING CLOAK": "butterfly"}, {"MOURNING CLOAK": {"mourning", "cloak"}},
                        {"mourning", "cloak", "come"})
    message = "where does the gloomy name mourning cloak come from"
    start = tokens(message).index("mourning")
    assert shapes.find(message, [Span("MOURNING CLOAK", start, start + 2)]) is None


def test_a_short_word_two_slips_from_a_name_near_its_start_is_another_word(tiny_engine) -> None:  # noqa: ANN001
    linker: SpeciesLinker = tiny_engine.linker
    assert [m.label for m in linker.find("where does the monark live")] == ["MONARCH"]
    # "vocaroy" is two slips from "viceroy", both near its start (as "sussex" is from "sunset")
    assert linker.find("a walk near vocaroy") == []


def test_spaces_and_a_comparison_in_a_description(tiny_engine) -> None:  # noqa: ANN001
    # runs of spaces are one space, so a refusal names what was typed ("small tortoiseshell");
    # "smaller than a monarch" in a description asks for no size ranking
    refused = tiny_engine.ask("SMALL  TORTOISESHELL!!! what does it eat")
    assert refused.status == "not_covered" and "small tortoiseshell" in refused.answer.lower()
    reply = tiny_engine.ask("small orange and black butterfly on the asters, smaller than a monarch")
    assert "smallest" not in reply.answer.lower()
