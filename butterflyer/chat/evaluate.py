"""Evaluate the chatbot on its question sets and write a Markdown + JSON report.

Three splits: ``dev`` and ``held-out`` (``visitors_dev.yaml`` / ``visitors_heldout.yaml``,
visitors' questions graded on real-world facts; held-out is never used for tuning; dev also
takes ``visitors_extra_dev.yaml`` and ``visitors_fresh_dev.yaml``, questions written later to
learn from, outside the frozen split) and
``team`` (the writers' older ``questions_*.yaml``, kept as a regression check). Each file
is a list of :class:`~butterflyer.chat.schema.EvalQuestion`.

A question is correct when the bot refuses exactly the must-refuse ones (a not-covered
refusal must also name what was asked about) and otherwise gives one of the expected
facts. Per split the report gives accuracy, refusals right, **cross-species answers**
(an answer citing a species entry outside the question's ``about``) and **answer
precision**, a measurable proxy for "every sentence bears on the question": a cited
answer sentence counts as relevant when all its citations come from the question's
``about`` entries and it either states an expected fact or comes from the same kind of
section (food plants, habitat, ...) as a sentence that does. Uncited framing ("to be sure,
send a photo") is not counted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from butterflyer import paths
from butterflyer.chat.answer import ChatEngine
from butterflyer.chat.reply import ChatReply, answer_sentences, cited_numbers, fully_grounded, strip_marks
from butterflyer.chat.schema import EvalQuestion
from butterflyer.chat.text import name_forms, normalize
from butterflyer.errors import ChatError
from butterflyer.fileio import atomic_write_json, atomic_write_text

EVAL_DIR = Path(__file__).resolve().parent / "eval"
# "visitors_*dev.yaml" is visitors_dev.yaml, visitors_extra_dev.yaml and visitors_fresh_dev.yaml
SPLITS = {"dev": "visitors_*dev.yaml", "held-out": "visitors_heldout.yaml", "team": "questions_*.yaml"}
TARGETS = {"accuracy": 0.95, "refusal_recall": 1.0, "cross_species": 0, "precision": 0.90}
TARGET_SPLIT = "held-out"


def load_questions(folder: str | Path | None = None, pattern: str = "questions_*.yaml"
                   ) -> dict[str, list[EvalQuestion]]:
    """Questions by file name; raises ``ChatError`` naming the file, item and field of any invalid one."""
    base = Path(folder) if folder is not None else EVAL_DIR
    out: dict[str, list[EvalQuestion]] = {}
    for path in sorted(base.glob(pattern)):
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
        raise ChatError(f"no {pattern} under {base}; add a question set first")
    return out


def load_splits(folder: str | Path | None = None, only: Sequence[str] | None = None
                ) -> dict[str, list[tuple[str, EvalQuestion]]]:
    """``{split: [(file, question), ...]}`` for every split (or only those in ``only``) that has files
    under ``folder``."""
    unknown = sorted(set(only or []) - set(SPLITS))
    if unknown:
        raise ChatError(f"unknown split(s) {', '.join(unknown)}; choose from {', '.join(SPLITS)}")
    out: dict[str, list[tuple[str, EvalQuestion]]] = {}
    for split, pattern in SPLITS.items():
        if only is not None and split not in only:
            continue
        try:
            sets = load_questions(folder, pattern)
        except ChatError as exc:
            if "no " + pattern in str(exc):
                continue
            raise
        out[split] = [(name, q) for name, qs in sets.items() for q in qs]
    if not out:
        raise ChatError(f"no question files ({', '.join(SPLITS.values())}) under {folder or EVAL_DIR}")
    return out


_UNITS = ((re.compile(r"\b(\d+(?:\.\d+)?) ?(centimetres|centimeters)\b"), r"\1 cm"),
          (re.compile(r"\b(\d+(?:\.\d+)?) ?(millimetres|millimeters)\b"), r"\1 mm"))


def has_fact(q: EvalQuestion, text: str) -> bool:
    """Whether ``text`` states one of the question's expected facts (a unit spelt out counts as its
    symbol: "27 centimetres" states "27 cm")."""
    norm = normalize(text)
    short = norm
    for pattern, symbol in _UNITS:
        short = pattern.sub(symbol, short)
    for fact in q.expect_any:
        for said in {norm, short}:
            if fact.startswith("re:"):
                if re.search(normalize(fact[3:]), said):
                    return True
            elif normalize(fact) in said:
                return True
    return False


def is_correct(q: EvalQuestion, reply: ChatReply) -> bool:
    """Refused when it must (naming the asked-about species if set), else answered with an expected fact."""
    if q.refuse:
        return reply.refused and (q.mention is None or names(q.mention, reply.answer))
    return not reply.refused and has_fact(q, reply.answer)


def names(mention: str, text: str) -> bool:
    """Whether ``text`` names ``mention``, in the singular or the plural ("gulf fritillaries")."""
    norm = normalize(text).replace("-", " ")
    return any(form in norm for form in name_forms(mention))


CANDIDATE_WORDING = re.compile(r"\bprobably the\b.*\bto be sure, send a photo\b", re.IGNORECASE | re.DOTALL)


def offered_as_candidates(reply: ChatReply) -> bool:
    """A reply that offers species for a description, each named with its own sentence and worded as
    a guess to be checked with a photo (issue 17 allows this): a wrong candidate is a wrong answer,
    not another species' facts given for the one asked about."""
    return reply.candidates and bool(CANDIDATE_WORDING.search(reply.answer))


def cross_species(q: EvalQuestion, reply: ChatReply) -> list[str]:
    """Species entries an answered reply cites although the question is not about them (candidates
    offered for a description are not counted: they attribute nothing to another species)."""
    if reply.refused or offered_as_candidates(reply):
        return []
    allowed = set(q.about or [])
    if q.about is None and not q.refuse:
        return []  # a general question may cite any entry as an example
    return sorted({c.entry for c in reply.citations if c.entry_kind == "species" and c.entry not in allowed})


def precision_counts(q: EvalQuestion, reply: ChatReply) -> tuple[int, int]:
    """``(relevant, counted)`` cited sentences of an answered reply to an answerable question."""
    if q.refuse or reply.refused:
        return 0, 0
    by_n = {c.n: c for c in reply.citations}
    cited = [(s, [by_n[n] for n in cited_numbers(s) if n in by_n]) for s in answer_sentences(reply.answer)]
    cited = [(s, cs) for s, cs in cited if cs]
    hit_sections = {c.section for s, cs in cited if has_fact(q, strip_marks(s)) for c in cs}
    relevant = 0
    for s, cs in cited:
        in_scope = q.about is None or all(c.entry in q.about for c in cs if c.entry_kind == "species")
        on_point = has_fact(q, strip_marks(s)) or any(c.section in hit_sections for c in cs)
        relevant += in_scope and on_point
    return relevant, len(cited)


def run_eval(engine: ChatEngine | None = None, questions_dir: str | Path | None = None,
             report_dir: str | Path | None = None, write: bool = True,
             only: Sequence[str] | None = None) -> dict[str, Any]:
    """Ask every question, score the answers and (by default) write ``chat-eval.{md,json}``.

    ``only`` limits the run to some splits (``["dev", "team"]`` while tuning: the held-out
    answers are then never computed, so they cannot be looked at)."""
    from butterflyer.chat.answer import default_engine

    splits = load_splits(questions_dir, only)
    engine = engine or default_engine()
    rows: list[dict[str, Any]] = []
    for split, questions in splits.items():
        for name, q in questions:
            for label in [q.species, *(q.about or [])]:
                if label is not None and label not in engine.guide.species:
                    raise ChatError(f"{name}: question {q.question!r} names species {label!r}, "
                                    "which has no guide entry; use a dataset label")
            start = time.perf_counter()
            reply = engine.ask(q.question, species_id=q.species)
            ms = (time.perf_counter() - start) * 1000
            relevant, counted = precision_counts(q, reply)
            rows.append({"split": split, "file": name, "question": q.question, "kind": q.kind,
                         "species": q.species, "refuse": q.refuse, "expect_any": q.expect_any,
                         "status": reply.status, "answer": reply.answer, "refused": reply.refused,
                         "grounded": fully_grounded(reply), "correct": is_correct(q, reply),
                         "cross_species": cross_species(q, reply), "candidates": offered_as_candidates(reply),
                         "relevant": relevant, "counted": counted,
                         "ms": round(ms, 1),
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


def _split_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    must = [r for r in rows if r["refuse"]]
    did = [r for r in rows if r["refused"]]
    answered = [r for r in rows if not r["refused"]]
    tp = sum(1 for r in did if r["refuse"])
    counted = sum(r["counted"] for r in rows)
    return {
        "questions": n,
        "accuracy": sum(r["correct"] for r in rows) / n if n else 0.0,
        "answerable_accuracy": (sum(r["correct"] for r in rows if not r["refuse"]) / max(1, n - len(must))),
        "must_refuse": len(must),
        "refusals_right": sum(r["correct"] for r in must),
        "refusal_precision": tp / len(did) if did else 1.0,
        "refusal_recall": tp / len(must) if must else 1.0,
        "cross_species": sum(bool(r["cross_species"]) for r in rows),
        "precision": sum(r["relevant"] for r in rows) / counted if counted else 1.0,
        "answered": len(answered),
        "grounded_share": sum(r["grounded"] for r in answered) / len(answered) if answered else 1.0,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics per split and overall, plus per-kind accuracy, over per-question rows."""
    splits = {name: _split_metrics([r for r in rows if r["split"] == name])
              for name in SPLITS if any(r["split"] == name for r in rows)}
    ms = np.array([r["ms"] for r in rows]) if rows else np.zeros(1)
    metrics = _split_metrics(rows)
    metrics.update({"latency_ms_p50": float(np.percentile(ms, 50)),
                    "latency_ms_p95": float(np.percentile(ms, 95)),
                    "species_covered": len({r["species"] for r in rows if r["species"]})})
    target = splits.get(TARGET_SPLIT, metrics)
    metrics["targets_met"] = {
        "accuracy": target["accuracy"] >= TARGETS["accuracy"],
        "refusal_recall": all(s["refusals_right"] == s["must_refuse"] for s in splits.values()),
        "cross_species": all(s["cross_species"] <= TARGETS["cross_species"] for s in splits.values()),
        "precision": target["precision"] >= TARGETS["precision"],
    }
    per_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({r["kind"] for r in rows if r["kind"]}):
        sub = [r for r in rows if r["kind"] == kind and r["split"] != "team"]
        right = sum(r["correct"] for r in sub)
        per_kind[kind] = {"questions": len(sub), "accuracy": right / max(1, len(sub))}
    per_file = {}
    for name in sorted({r["file"] for r in rows}):
        sub = [r for r in rows if r["file"] == name]
        per_file[name] = {"questions": len(sub), "accuracy": sum(r["correct"] for r in sub) / len(sub)}
    bad = [r for r in rows if not r["correct"] or r["cross_species"]]
    return {"metrics": metrics, "splits": splits, "per_kind": per_kind, "per_file": per_file,
            "failures": bad, "rows": rows}


def render_markdown(result: dict[str, Any]) -> str:
    """The human-readable report."""
    m = result["metrics"]
    digest = str(result.get("guide_hash", ""))[:12]
    lines = ["# Chatbot evaluation", "",
             f"Backend: {result.get('backend', 'guide')}; guide hash `{digest}`. Targets apply to held-out "
             f"(accuracy >= {TARGETS['accuracy']:.0%}, precision >= {TARGETS['precision']:.0%}) and to every "
             "split (all refusals right, 0 cross-species answers).", "",
             "| split | questions | accuracy | refusals right | cross-species | answer precision | "
             "fully cited |", "|---|---|---|---|---|---|---|"]
    for name, s in result["splits"].items():
        lines.append(f"| {name} | {s['questions']} | {s['accuracy']:.1%} | "
                     f"{s['refusals_right']}/{s['must_refuse']} "
                     f"| {s['cross_species']} | {s['precision']:.1%} | {s['grounded_share']:.1%} |")
    lines += ["", f"Latency p50 / p95 (ms, this run, in-process): {m['latency_ms_p50']:.0f} / "
              f"{m['latency_ms_p95']:.0f}", "", "## Visitors' questions by kind (dev + held-out)", "",
              "| kind | questions | accuracy |", "|---|---|---|"]
    lines += [f"| {k} | {v['questions']} | {v['accuracy']:.1%} |" for k, v in result["per_kind"].items()]
    lines += ["", f"## Failures ({len(result['failures'])})", ""]
    for r in result["failures"]:
        want = "refusal" if r["refuse"] else " / ".join(r["expect_any"])
        ctx = f" (species {r['species']})" if r["species"] else ""
        cross = f" CROSS-SPECIES {r['cross_species']}" if r["cross_species"] else ""
        lines.append(f"- [{r['split']}] **{r['question']}**{ctx}: expected {want}; got {r['status']}: "
                     f"{r['answer'][:200]}{cross}")
    return "\n".join(lines) + "\n"
