"""Two questions in one message: find them, and join their two answers into one reply.

"What does the Adonis blue caterpillar eat, and do ants help it?" asks two things. Answered as one
question, the ranking picks whichever sentence shares most words with the whole message, which is
often the answer to the second question only. :func:`split_questions` cuts such a message into its
two questions (each keeps the context before it); :func:`join_replies` puts the second answer after
the first, renumbering its citations and leaving out sentences the first answer already quotes.
"""

from __future__ import annotations

import re

from butterflyer.chat.intent import is_asking
from butterflyer.chat.reply import ChatReply, Citation, cited_numbers
from butterflyer.chat.text import normalize, terms

# where a second question starts: after a question mark, or at "and" (after a comma, a dash or
# nothing) right before a question word ("..., and where should I look?")
_QUESTION_START = (r"(?:what|whats|what's|where|why|how|which|when|who|is|are|do|does|did|can|could|"
                   r"will|would|should)\b")
_SPLIT = re.compile(rf"(?<=\?)\s+|\s*(?:[,;]|\s-+)?\s+and\s+(?={_QUESTION_START})", re.IGNORECASE)
# sentences of the second answer that join the first one
SECOND_SENTENCES = 1

_SENTENCE_END = re.compile(r"[.!;:,]+(?=\s|$)|\s-+\s")
_PIECE = re.compile(r"\s*(.+?)\s*((?:\[\d+\])+)(?=\s|$)", re.DOTALL)


def split_questions(message: str) -> tuple[str, str] | None:
    """The two questions of a message that asks exactly two, each with its own words; else ``None``.

    A part that does not ask ("We have big oaks.") stays with the question after it, or with the
    last question when it comes at the end."""
    parts = [p.strip() for p in _SPLIT.split(message) if p and p.strip()]
    if len(parts) < 2:
        return None
    questions: list[str] = []
    context: list[str] = []
    for part in parts:
        clauses = [c.strip() for c in _SENTENCE_END.split(normalize(part)) if c.strip()]
        # (a tag such as "..., is it?" asks nothing of its own: it stays with its statement)
        if clauses and is_asking(clauses[-1]) and terms(clauses[-1]):
            questions.append(" ".join([*context, part]))
            context = []
        else:
            context.append(part)
    if context and questions:
        questions[-1] = " ".join([questions[-1], *context])
    if len(questions) != 2 or not all(terms(q) for q in questions):
        return None
    return questions[0], questions[1]


def _pieces(reply: ChatReply) -> list[tuple[str, list[int]]]:
    """``(sentence, cited numbers)`` for each cited sentence of an answer."""
    return [(text, cited_numbers(marks)) for text, marks in _PIECE.findall(reply.answer)]


def join_replies(first: ChatReply, second: ChatReply, limit: int = SECOND_SENTENCES) -> ChatReply:
    """``first`` followed by up to ``limit`` sentences of ``second`` that it does not already quote."""
    citations = list(first.citations)
    quoted = {(c.entry, c.text) for c in citations}
    by_n = {c.n: c for c in second.citations}
    added: list[str] = []
    for text, numbers in _pieces(second):
        cited = [by_n[n] for n in numbers if n in by_n]
        if not cited or all((c.entry, c.text) in quoted for c in cited) or len(added) >= limit:
            continue
        marks = ""
        for c in cited:
            new: Citation = c.model_copy(update={"n": len(citations) + 1})
            citations.append(new)
            quoted.add((c.entry, c.text))
            marks += f"[{new.n}]"
        added.append(f"{text} {marks}")
    if not added:
        return first
    return first.model_copy(update={"answer": " ".join([first.answer, *added]), "citations": citations})
