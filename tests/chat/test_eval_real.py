"""The evaluation targets on the real, packaged guide and question sets (builds the full index: slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.evaluate import load_questions, run_eval


def test_question_sets_cover_the_guide() -> None:
    sets = load_questions()
    questions = [q for qs in sets.values() for q in qs]
    assert len(questions) >= 100
    assert sum(q.refuse for q in questions) >= 20
    assert len({q.species for q in questions if q.species}) >= 10


@pytest.mark.slow
def test_eval_targets_on_real_guide(tmp_path: Path, encoder) -> None:
    engine = ChatEngine(encoder=encoder, index_root=tmp_path / "index")
    result = run_eval(engine=engine, report_dir=tmp_path / "report")
    splits = result["splits"]
    team = [r for r in result["failures"] if r["split"] == "team"]
    failures = "\n".join(f"{r['question']} -> {r['status']}: {r['answer'][:100]}" for r in team)
    # the writers' regression set keeps its level; the visitors' splits are reported (held-out is
    # measured, never tuned on) and guarded only against falling back to the pre-issue-17 level
    assert splits["team"]["accuracy"] >= 0.95, failures
    assert splits["team"]["refusals_right"] == splits["team"]["must_refuse"], failures
    assert splits["team"]["cross_species"] == 0 and splits["team"]["grounded_share"] == 1.0
    assert splits["dev"]["accuracy"] >= 0.90 and splits["dev"]["precision"] >= 0.90
    assert splits["held-out"]["accuracy"] >= 0.80
    assert (tmp_path / "report" / "chat-eval.md").is_file()
