"""Learn the chat planner's sentence-ranking weights from the dev questions, and cross-validate them.

For every answerable dev / team question the planner's candidate sentences are collected with
their feature rows (``Planner.candidates``); a sentence is good when it states one of the
question's expected facts (the evaluator's matcher). Where the planner has sentences that pass
its support checks, only those compete (the first of them is what gets quoted).

``cv``: leave one dev visitor file out, fit on the other dev files plus the team files, and
answer the left-out file with the full bot under the hand-set and the learned weights.
It also reports, per left-out file, how often the top-scored candidate states an expected fact
(among questions with both kinds of candidate). ``fit``: fit on every dev and team file and
write the weights to ``--out``. Held-out questions are never read.

    PYTHONPATH=. python benchmarks/fit_chat_ranker.py cv [--l2 1e-3] [--rule-features]
    PYTHONPATH=. python benchmarks/fit_chat_ranker.py fit --out ranker.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from butterflyer.chat.answer import ChatEngine, default_engine
from butterflyer.chat.evaluate import EVAL_DIR, cross_species, has_fact, is_correct, load_questions
from butterflyer.chat.rank import FEATURES, RULES, Group, Ranker, fit, rules, save
from butterflyer.chat.schema import EvalQuestion

VISITOR_FILES = ("visitors_dev.yaml", "visitors_extra_dev.yaml", "visitors_fresh_dev.yaml",
                 "visitors_fresh2_dev.yaml")
TEAM_FILES = ("questions_a.yaml", "questions_b.yaml", "questions_refuse.yaml")


def questions(name: str) -> list[EvalQuestion]:
    """One question file (by exact name; never the held-out one)."""
    assert "heldout" not in name
    return load_questions(EVAL_DIR, name)[name]


def collect(engine: ChatEngine, qs: list[EvalQuestion]) -> list[Group]:
    """One :class:`Group` per answerable question the planner ranks sentences for."""
    planner = engine.planner
    seen: list[Any] = []
    original = planner.candidates

    def spy(q, hits):  # noqa: ANN001, ANN202
        items, rows = original(q, hits)
        seen.append((q, items, rows))
        return items, rows

    planner.candidates = spy  # type: ignore[method-assign]
    groups = []
    try:
        for q in qs:
            if q.refuse:
                continue
            seen.clear()
            engine.ask(q.question, species_id=q.species)
            for query, items, rows in seen[-1:]:
                good = np.array([has_fact(q, c.sentences[j]) for c, j in items], dtype=bool)
                if query.targets:  # species questions quote the best sentence that passes the checks
                    ok = np.array([planner.supported(query, c, j) for c, j in items], dtype=bool)
                    if ok.any():
                        rows, good = rows[ok], good[ok]
                groups.append(Group(rows, good))
    finally:
        planner.candidates = original  # type: ignore[method-assign]
    return groups


def score_file(engine: ChatEngine, ranker: Ranker, qs: list[EvalQuestion]) -> dict[str, Any]:
    """Full-bot accuracy, refusals right and cross-species answers on ``qs`` under ``ranker``."""
    engine.planner.ranker = ranker
    right = refusals = must = cross = 0
    wrong: list[str] = []
    for q in qs:
        reply = engine.ask(q.question, species_id=q.species)
        ok = is_correct(q, reply)
        right += ok
        must += q.refuse
        refusals += q.refuse and ok
        cross += bool(cross_species(q, reply))
        if not ok:
            wrong.append(q.question)
    return {"questions": len(qs), "right": right, "accuracy": right / max(1, len(qs)),
            "refusals": f"{refusals}/{must}", "cross_species": cross, "wrong": wrong}


def top1(ranker: Ranker, groups: list[Group]) -> tuple[int, int]:
    """``(right, n)``: groups with an answering and a non-answering row whose best-scored row answers."""
    useful = [g for g in groups if g.good.any() and not g.good.all()]
    return sum(bool(g.good[int(np.argmax(ranker.score(g.rows)))]) for g in useful), len(useful)


def only_rule_features(groups: list[Group]) -> list[Group]:
    """The groups with every feature the hand-set rules do not use zeroed (so it gets no weight)."""
    keep = np.array([f in RULES for f in FEATURES], dtype=np.float64)
    return [Group(g.rows * keep, g.good) for g in groups]


def cross_validate(engine: ChatEngine, l2: float, rule_features: bool = False) -> dict[str, Any]:
    """Leave-one-visitor-file-out: rules vs learned weights on each left-out file."""
    data = {name: questions(name) for name in (*VISITOR_FILES, *TEAM_FILES)}
    engine.planner.ranker = rules()
    groups = {name: collect(engine, qs) for name, qs in data.items()}
    out: dict[str, Any] = {}
    for left in VISITOR_FILES:
        train = [g for name, gs in groups.items() if name != left for g in gs]
        if rule_features:
            train = only_rule_features(train)
        ranker = fit(train, l2=l2)
        out[left] = {"weights": ranker.as_dict(),
                     "top1_rules": top1(rules(), groups[left]), "top1_learned": top1(ranker, groups[left]),
                     "rules": score_file(engine, rules(), data[left]),
                     "learned": score_file(engine, ranker, data[left])}
    engine.planner.ranker = rules()
    return out


def fit_all(engine: ChatEngine, l2: float) -> Ranker:
    """Weights fitted on every dev and team question file."""
    engine.planner.ranker = rules()
    names = (*VISITOR_FILES, *TEAM_FILES)
    groups = [g for name in names for g in collect(engine, questions(name))]
    return fit(groups, l2=l2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("cv", "fit"))
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--rule-features", action="store_true",
                        help="learn weights for the rules' features only")
    parser.add_argument("--json", help="write the cross-validation result here")
    parser.add_argument("--out", help="fit: write the weights here")
    args = parser.parse_args()
    engine = default_engine()
    if args.mode == "fit":
        if not args.out:
            parser.error("fit needs --out PATH")
        ranker = fit_all(engine, args.l2)
        save(ranker, args.out, {"files": [*VISITOR_FILES, *TEAM_FILES], "l2": args.l2})
        print(json.dumps(ranker.as_dict(), indent=2))
        return
    result = cross_validate(engine, args.l2, args.rule_features)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    print("| left-out file | questions | rules right | learned right | rules refusals | learned refusals "
          "| rules cross | learned cross |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in result.items():
        a, b = r["rules"], r["learned"]
        print(f"| {name} | {a['questions']} | {a['right']} ({a['accuracy']:.1%}) | {b['right']} "
              f"({b['accuracy']:.1%}) | {a['refusals']} | {b['refusals']} | {a['cross_species']} "
              f"| {b['cross_species']} |")
    for name, r in result.items():
        print(name, "top-1 of candidates (rules, learned):", r["top1_rules"], r["top1_learned"])
        print("  ", r["weights"])


if __name__ == "__main__":
    main()
