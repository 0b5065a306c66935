"""The chat engine on the tiny guide: grounded answers, follow-ups, comparisons, refusals, the index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.guide import read_guide
from butterflyer.chat.index import open_index
from butterflyer.chat.reply import fully_grounded, strip_marks
from butterflyer.errors import ChatError


def _check_citations(reply) -> None:
    assert reply.status == "answered"
    assert fully_grounded(reply), reply.answer
    for c in reply.citations:
        assert f"[{c.n}]" in reply.answer
        assert c.text in reply.answer  # offline answers quote guide sentences verbatim


def test_answer_quotes_the_right_section(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("What does a monarch caterpillar eat?")
    _check_citations(reply)
    assert "milkweed" in reply.answer.lower()
    assert reply.citations[0].entry == "MONARCH" and reply.citations[0].section == "larval_host_plants"
    assert reply.species_id == "MONARCH"


def test_follow_up_uses_current_species(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("What does it eat?", species_id="PAINTED LADY")
    _check_citations(reply)
    sections = {c.section for c in reply.citations}
    assert {"larval_host_plants", "adult_food"} <= sections
    assert all(c.entry == "PAINTED LADY" for c in reply.citations)


def test_follow_up_from_history(tiny_engine: ChatEngine) -> None:
    history = [{"role": "user", "content": "Tell me about the atlas moth"},
               {"role": "assistant", "content": "The atlas moth lives in tropical forests."}]
    reply = tiny_engine.ask("How big is it?", history=history)
    _check_citations(reply)
    assert "240" in reply.answer and reply.species_id == "ATLAS MOTH"


def test_structured_fields_answer(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("Which family is the painted lady in?")
    _check_citations(reply)
    assert "Nymphalidae" in reply.answer
    assert "Attacus" in tiny_engine.ask("What genus is the atlas moth?").answer


def test_comparison_uses_both_entries(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("How do I tell a monarch from a viceroy?")
    _check_citations(reply)
    entries = {c.entry for c in reply.citations}
    assert entries == {"MONARCH", "VICEROY"}
    assert "black line" in reply.answer


def test_comparison_follow_up(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("How can I tell it apart from a viceroy?", species_id="MONARCH")
    _check_citations(reply)
    assert any(c.section.startswith("similar") for c in reply.citations)


def test_topic_question(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("Why do butterflies migrate?")
    _check_citations(reply)
    assert reply.citations[0].entry_kind == "topic" and "winter" in reply.answer


def test_summary_for_bare_name(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("Viceroy")
    _check_citations(reply)
    assert reply.citations[0].section == "overview"


@pytest.mark.parametrize(("question", "species"), [
    ("When does the viceroy fly?", None),          # flight_period is null
    ("Is the painted lady endangered?", None),    # conservation_status is null
    ("How much does a monarch cost?", None),       # nothing about prices
    ("What do the adults eat?", "VICEROY"),        # adult_food is null
])
def test_not_covered(tiny_engine: ChatEngine, question: str, species: str | None) -> None:
    reply = tiny_engine.ask(question, species_id=species)
    assert reply.status == "not_covered", reply.answer
    assert "doesn't cover" in reply.answer and reply.citations == []


@pytest.mark.parametrize("question", ["What is the capital of France?", "How do I bake sourdough bread?"])
def test_off_topic(tiny_engine: ChatEngine, question: str) -> None:
    reply = tiny_engine.ask(question)
    assert reply.status == "off_topic" and reply.citations == []
    assert reply.refused


def test_off_topic_even_with_current_species(tiny_engine: ChatEngine) -> None:
    assert tiny_engine.ask("Who wrote Romeo and Juliet?", species_id="MONARCH").refused


def test_bad_input_is_a_clear_error(tiny_engine: ChatEngine) -> None:
    with pytest.raises(ChatError, match="empty"):
        tiny_engine.ask("   ")
    with pytest.raises(ChatError, match="unknown species_id"):
        tiny_engine.ask("what does it eat?", species_id="DODO")
    with pytest.raises(ChatError, match="characters"):
        tiny_engine.ask("a" * 5000)


def test_resolve_species(tiny_engine: ChatEngine) -> None:
    assert tiny_engine.resolve_species("painted lady") == "PAINTED LADY"
    assert tiny_engine.resolve_species("monarch") == "MONARCH"
    with pytest.raises(ChatError, match="no species"):
        tiny_engine.resolve_species("unicorn")


def test_index_is_persistent_and_rebuilt_on_change(tmp_path: Path, tiny_guide_dir: Path, encoder) -> None:
    root = tmp_path / "idx"
    first = open_index(read_guide(tiny_guide_dir), encoder, root)
    assert first.rebuilt and (first.folder / "meta.json").is_file()
    again = open_index(read_guide(tiny_guide_dir), encoder, root)
    assert not again.rebuilt and again.folder == first.folder
    assert abs(again.vectors - first.vectors).max() < 1e-6
    path = tiny_guide_dir / "species" / "viceroy.yaml"
    data = yaml.safe_load(path.read_text())
    data["flight_period"] = "Viceroys fly from May to September in two or three broods."
    path.write_text(yaml.safe_dump(data))
    changed = read_guide(tiny_guide_dir)
    third = open_index(changed, encoder, root)
    assert third.rebuilt and third.folder != first.folder and not first.folder.exists()
    engine = ChatEngine(guide=changed, encoder=encoder, index=third)
    reply = engine.ask("When does the viceroy fly?")
    assert reply.status == "answered" and "May" in reply.answer


def test_a_damaged_index_is_rebuilt_and_said_so(
    tmp_path: Path, tiny_guide_dir: Path, encoder, caplog: pytest.LogCaptureFixture
) -> None:
    guide = read_guide(tiny_guide_dir)
    first = open_index(guide, encoder, tmp_path / "idx")
    for table in first.folder.glob("*.lance"):
        shutil.rmtree(table)  # the tables are gone, meta.json stays: a half-deleted cache
    with caplog.at_level("WARNING", logger="butterflyer.chat.index"):
        again = open_index(guide, encoder, tmp_path / "idx")
    assert again.rebuilt and "damaged" in caplog.text
    assert abs(again.vectors - first.vectors).max() < 1e-6


def test_default_index_lives_under_home(butterflyer_home: Path) -> None:
    from butterflyer.chat.index import default_root

    assert default_root() == butterflyer_home / "cache" / "chat-index"


def test_grounding_check_rejects_uncited_text(tiny_engine: ChatEngine) -> None:
    reply = tiny_engine.ask("What does a monarch caterpillar eat?")
    tampered = reply.model_copy(update={"answer": reply.answer + " Monarchs also love chocolate."})
    assert not fully_grounded(tampered)
    invented = reply.model_copy(update={"answer": "Monarchs eat chocolate cake every day [1]."})
    assert not fully_grounded(invented)
    assert strip_marks("Milkweed [1] [2].") == "Milkweed ."


@pytest.mark.parametrize("text", ["hi", "Hello there!", "thanks"])
def test_greeting_gets_help_not_an_answer(tiny_engine: ChatEngine, text: str) -> None:
    reply = tiny_engine.ask(text)
    assert reply.refused and reply.citations == [] and "field guide" in reply.answer


def test_no_sentence_is_quoted_twice(tiny_engine: ChatEngine) -> None:
    cases = [("What does it eat?", "MONARCH"), ("What does it eat?", "PAINTED LADY"),
             ("Where does it live?", "VICEROY"), ("How do I tell a monarch from a viceroy?", None)]
    for question, species in cases:
        texts = [c.text for c in tiny_engine.ask(question, species_id=species).citations]
        assert len(texts) == len(set(texts)), (question, texts)
