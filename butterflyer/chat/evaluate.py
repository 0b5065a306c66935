"""Evaluate the chatbot on the team's question sets and write a Markdown + JSON report.

Every ``chat/eval/questions_*.yaml`` is a list of :class:`~butterflyer.chat.schema.EvalQuestion`.
A question is correct when the bot refuses exactly the must-refuse ones and, for the
others, the answer contains one of the expected substrings. The report gives accuracy,
refusal precision and recall, the share of answers whose every sentence is backed by a
cited passage, and latency percentiles.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from butterflyer import paths
from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.reply import fully_grounded
from butterflyer.chat.schema import EvalQuestion
from butterflyer.chat.text import normalize
from butterflyer.errors import ChatError
from butterflyer.fileio import atomic_write_json, atomic_write_text

EVAL_DIR = Path(__file__).resolve().parent / "eval"
TARGETS = {"accuracy": 0.90, "refusal_recall": 1.0, "grounded_share": 1.0}


def load_questions(folder: str | Path | None = None) -> dict[str, list[EvalQuestion]]:
    """Questions by file name; raises ``ChatError`` naming the file, item and field of any invalid one."""
    base = Path(folder) if folder is not None else EVAL_DIR
    out: dict[str, list[EvalQuestion]] = {}
    for path in sorted(base.glob("questions_*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise ChatError(f"{path.name}: not valid YAML ({exc}); fix the syntax") from exc
        if not isinstance(raw, list):
            raise ChatError(f"{path.name}: expected a list of questions at the top level")
        items = []
        for i, item in enumerate(raw):
            try:
                items.append(EvalQuestion.model_validate(item))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "(item)"
                raise ChatError(f"{path.name}: question {i}: field '{where}': {err['msg']}") from exc
        out[path.name] = items
    if not out:
        raise ChatError(f"no questions_*.yaml under {base}; add a question set first")
    return out


def _is_correct(q: EvalQuestion, refused: bool, answer: str) -> bool:
    if q.refuse:
        return refused
    text = normalize(answer)
    return not refused and any(normalize(e) in text for e in q.expect_any)


def run_eval(engine: ChatEngine | None = None, questions_dir: str | Path | None = None,
             report_dir: str | Path | None = None, write: bool = True) -> dict[str, Any]:
    """Ask every question, score the answers and (by default) write ``chat-eval.{md,json}``."""
    from butterflyer.chat.answer import default_engine

    sets = load_questions(questions_dir)
    engine = engine or default_engine()
    rows: list[dict[str, Any]] = []
    for name, questions in sets.items():
        for q in questions:
            if q.species is not None and q.species not in engine.guide.species:
                raise ChatError(f"{name}: question {q.question!r} sets species {q.species!r}, "
                                "which has no guide entry; use a dataset label")
            start = time.perf_counter()
            reply = engine.ask(q.question, species_id=q.species)
            ms = (time.perf_counter() - start) * 1000
            rows.append({"file": name, "question": q.question, "species": q.species, "refuse": q.refuse,
                         "expect_any": q.expect_any, "status": reply.status, "answer": reply.answer,
                         "refused": reply.refused, "grounded": fully_grounded(reply),
                         "correct": _is_correct(q, reply.refused, reply.answer), "ms": round(ms, 1),
                         "citations": [f"{c.entry}/{c.section}" for c in reply.citations]})
    result = summarize(rows)
    result["backend"] = "llm" if engine.llm is not None else "guide"
    result["guide_hash"] = engine.guide.content_hash
    if write:
        folder = Path(report_dir) if report_dir is not None else paths.home() / "reports"
        atomic_write_json(folder / "chat-eval.json", result)
        atomic_write_text(folder / "chat-eval.md", render_markdown(result))
        result["report"] = str(folder / "chat-eval.md")
    return result


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics over per-question rows."""
    n = len(rows)
    must = [r for r in rows if r["refuse"]]
    did = [r for r in rows if r["refused"]]
    answered = [r for r in rows if not r["refused"]]
    tp = sum(1 for r in did if r["refuse"])
    ms = np.array([r["ms"] for r in rows]) if rows else np.zeros(1)
    metrics = {
        "questions": n,
        "accuracy": sum(r["correct"] for r in rows) / n if n else 0.0,
        "answerable_accuracy": (sum(r["correct"] for r in rows if not r["refuse"]) / max(1, n - len(must))),
        "must_refuse": len(must),
        "refusal_precision": tp / len(did) if did else 1.0,
        "refusal_recall": tp / len(must) if must else 1.0,
        "answered": len(answered),
        "grounded_share": sum(r["grounded"] for r in answered) / len(answered) if answered else 1.0,
        "latency_ms_p50": float(np.percentile(ms, 50)),
        "latency_ms_p95": float(np.percentile(ms, 95)),
        "species_covered": len({r["species"] for r in rows if r["species"]}),
    }
    per_file = {}
    for name in sorted({r["file"] for r in rows}):
        sub = [r for r in rows if r["file"] == name]
        per_file[name] = {"questions": len(sub), "accuracy": sum(r["correct"] for r in sub) / len(sub)}
    metrics["targets_met"] = {k: metrics[k] >= v for k, v in TARGETS.items()}
    return {"metrics": metrics, "per_file": per_file, "failures": [r for r in rows if not r["correct"]],
            "rows": rows}


def render_markdown(result: dict[str, Any]) -> str:
    """The human-readable report."""
    m = result["metrics"]
    digest = str(result.get("guide_hash", ""))[:12]
    lines = ["# Chatbot evaluation", "",
             f"Backend: {result.get('backend', 'guide')}; guide hash `{digest}`.",
             "", "| metric | value | target |", "|---|---|---|",
             f"| questions | {m['questions']} | >= 100 |",
             f"| accuracy | {m['accuracy']:.1%} | >= 90% |",
             f"| refusal precision | {m['refusal_precision']:.1%} | |",
             f"| refusal recall ({m['must_refuse']} must-refuse) | {m['refusal_recall']:.1%} | 100% |",
             f"| answers fully backed by citations | {m['grounded_share']:.1%} | 100% |",
             f"| latency p50 / p95 (ms, this run) | {m['latency_ms_p50']:.0f} / {m['latency_ms_p95']:.0f} | "
             "p50 <= 200 (bench) |", "", "## Per question set", "", "| file | questions | accuracy |",
             "|---|---|---|"]
    lines += [f"| {k} | {v['questions']} | {v['accuracy']:.1%} |" for k, v in result["per_file"].items()]
    lines += ["", f"## Failures ({len(result['failures'])})", ""]
    for r in result["failures"]:
        want = "refusal" if r["refuse"] else " / ".join(r["expect_any"])
        ctx = f" (species {r['species']})" if r["species"] else ""
        lines.append(f"- **{r['question']}**{ctx}: expected {want}; got {r['status']}: {r['answer'][:200]}")
    return "\n".join(lines) + "\n"
