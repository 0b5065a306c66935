"""Checks on the guide's prose and the eval questions beyond what the schema can express.

The chatbot quotes single sentences, so each must stand alone: no leading "It"/"They",
no markdown or links. Eval questions must be answerable from the text as written: every
``expect_any`` substring has to occur in the guide. ``python -m butterflyer.chat.lint``
prints every issue.
"""

from __future__ import annotations

import re

from butterflyer.chat.chunks import build_chunks
from butterflyer.chat.schema import EvalQuestion, FieldGuide
from butterflyer.chat.text import normalize

_DANGLING = re.compile(r"^(It|Its|They|Their|Them|This|These|He|She)\b")
_MARKUP = re.compile(r"(https?://|www\.|\*\*|__|\[[^\]]*\]\(|^#|`)")


def prose_issues(guide: FieldGuide, min_words: int = 5, max_words: int = 45) -> list[str]:
    """Sentences that cannot be quoted alone: dangling pronouns, markup, far too short or long."""
    out = []
    for chunk in build_chunks(guide):
        for s in chunk.sentences:
            where = f"{chunk.entry} / {chunk.section}"
            if _DANGLING.match(s):
                out.append(f"{where}: starts with a pronoun: {s!r}")
            if _MARKUP.search(s):
                out.append(f"{where}: markup or link: {s!r}")
            n = len(s.split())
            if n < min_words or n > max_words:
                out.append(f"{where}: {n} words: {s[:80]!r}")
    return out


def question_issues(guide: FieldGuide, sets: dict[str, list[EvalQuestion]]) -> list[str]:
    """Eval questions whose expected facts occur nowhere in the guide (or name an unknown species)."""
    corpus = " ".join(normalize(c.text) for c in build_chunks(guide))
    out = []
    for name, questions in sets.items():
        for i, q in enumerate(questions):
            if q.species is not None and q.species not in guide.species:
                out.append(f"{name}: question {i}: species {q.species!r} has no entry")
            if q.expect_any and not any(normalize(e) in corpus for e in q.expect_any):
                out.append(f"{name}: question {i} ({q.question!r}): none of {q.expect_any} "
                           "occurs in the guide")
    return out


if __name__ == "__main__":  # pragma: no cover - a maintainer's helper
    from butterflyer.chat.evaluate import load_questions
    from butterflyer.chat.guide import guide_problems, load_guide

    g = load_guide()
    for line in guide_problems(g) + prose_issues(g) + question_issues(g, load_questions()):
        print(line)
