"""``butterflyer chat`` and ``butterflyer chat eval``, and the evaluation metrics."""
# ruff: noqa: E501

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from butterflyer.chat import answer as answer_mod
from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.evaluate import load_questions, run_eval
from butterflyer.cli.main import app
from butterflyer.errors import ChatError

QUESTIONS = [
    {"question": "What does a monarch caterpillar eat?", "species": None, "expect_any": ["milkweed"],
     "refuse": False},
    {"question": "How big is it?", "species": "ATLAS MOTH", "expect_any": ["240"], "refuse": False},
    {"question": "What is the wingspan of the viceroy?", "species": None, "expect_any": ["999"], "refuse": False},
    {"question": "What is the capital of France?", "species": None, "expect_any": [], "refuse": True},
    {"question": "What does the viceroy eat?", "species": None, "expect_any": [], "refuse": True},
]


@pytest.fixture()
def use_tiny(tiny_engine: ChatEngine, monkeypatch: pytest.MonkeyPatch) -> ChatEngine:
    monkeypatch.setattr(answer_mod, "default_engine", lambda: tiny_engine)
    return tiny_engine


def test_run_eval_scores_and_writes_report(tmp_path: Path, tiny_engine: ChatEngine) -> None:
    qdir = tmp_path / "q"
    qdir.mkdir()
    (qdir / "questions_t.yaml").write_text(yaml.safe_dump(QUESTIONS))
    result = run_eval(engine=tiny_engine, questions_dir=qdir, report_dir=tmp_path / "r")
    m = result["metrics"]
    assert m["questions"] == 5 and m["must_refuse"] == 2
    # q3 expects a wrong number; q5 is answerable (host plants), so it is a false non-refusal
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["refusal_recall"] == pytest.approx(1 / 2) and m["refusal_precision"] == 1.0
    assert m["grounded_share"] == 1.0
    assert {f["question"] for f in result["failures"]} == {QUESTIONS[2]["question"], QUESTIONS[4]["question"]}
    saved = json.loads((tmp_path / "r" / "chat-eval.json").read_text())
    assert saved["metrics"]["questions"] == 5
    assert "| team | 5 | 60.0% | 1/2 |" in (tmp_path / "r" / "chat-eval.md").read_text()


def test_invalid_question_file_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "questions_bad.yaml").write_text(yaml.safe_dump([{"question": "x", "refuse": False}]))
    with pytest.raises(ChatError, match="questions_bad.yaml: question 0"):
        load_questions(tmp_path)


def test_packaged_question_sets_are_valid() -> None:
    sets = load_questions()
    assert "questions_refuse.yaml" in sets
    mine = sets["questions_refuse.yaml"]
    assert sum(q.refuse for q in mine) >= 20 and sum(not q.refuse for q in mine) >= 10


def test_cli_one_shot_json(use_tiny: ChatEngine) -> None:
    result = CliRunner().invoke(app, ["chat", "--species", "monarch", "-m", "what does it eat?", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["species_id"] == "MONARCH" and body["citations"]


def test_cli_interactive_follow_up(use_tiny: ChatEngine) -> None:
    result = CliRunner().invoke(app, ["chat"], input="Tell me about the atlas moth\nHow big is it?\nquit\n")
    assert result.exit_code == 0, result.output
    assert "240" in result.stdout and "Atlas moth" in result.stdout


def test_cli_unknown_species_is_an_error(use_tiny: ChatEngine) -> None:
    result = CliRunner().invoke(app, ["chat", "--species", "unicorn", "-m", "hi"])
    assert result.exit_code != 0 and "no species" in str(result.exception)


def test_eval_of_some_splits_never_asks_the_others(tmp_path: Path, tiny_engine: ChatEngine) -> None:
    qdir = tmp_path / "q"
    qdir.mkdir()
    (qdir / "questions_t.yaml").write_text(yaml.safe_dump(QUESTIONS[:2]))
    (qdir / "visitors_heldout.yaml").write_text(yaml.safe_dump(QUESTIONS[2:]))
    result = run_eval(engine=tiny_engine, questions_dir=qdir, write=False, only=["team"])
    assert set(result["splits"]) == {"team"}
    assert {r["question"] for r in result["rows"]} == {q["question"] for q in QUESTIONS[:2]}
    with pytest.raises(ChatError, match="unknown split"):
        run_eval(engine=tiny_engine, questions_dir=qdir, write=False, only=["heldout"])
