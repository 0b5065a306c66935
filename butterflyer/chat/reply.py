"""What the chatbot returns, and the check that every answer sentence is backed by its citations.

Answers carry numbered markers ``[n]`` that point into ``citations`` (1-based). A
sentence is *grounded* when it cites at least one valid passage and its content words
come from the passages it cites; refusals have no sentences to check.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from butterflyer.chat.text import split_sentences, terms

Status = Literal["answered", "not_covered", "off_topic"]
NOT_COVERED = "My field guide doesn't cover that"

OFF_TOPIC = ("Sorry, I can only help with butterflies and moths, using my field guide. "
             "Try asking about a species' food plants, range, size or how to identify it.")

GREETING = ("Hello! I answer questions about the 100 butterflies and moths in my field guide, quoting it "
            "with numbered sources. Try 'What does a monarch caterpillar eat?' or 'How do I tell a monarch "
            "from a viceroy?'")

_MARK = re.compile(r"\[(\d+)\]")


class Citation(BaseModel):
    """One quoted guide sentence: ``entry`` is a dataset label or a topic id."""

    n: int = Field(ge=1, description="the number used as [n] in the answer")
    entry: str
    entry_kind: Literal["species", "topic"]
    entry_title: str
    section: str
    section_title: str
    text: str


class EntrySources(BaseModel):
    """The references a cited guide entry (species or topic) was checked against."""

    entry: str
    entry_title: str
    references: list[str]


class ChatReply(BaseModel):
    """An answer, its citations, the conversation's species after this turn, and what happened."""

    answer: str
    citations: list[Citation] = Field(default_factory=list)
    sources: list[EntrySources] = Field(default_factory=list,
                                        description="references of every entry the answer cites")
    species_id: str | None = None
    status: Status = "answered"
    candidates: bool = Field(default=False, description="the cited entries are possible species for a "
                             "described insect, each named, never facts given for another species")
    backend: Literal["guide", "llm"] = "guide"

    @property
    def refused(self) -> bool:
        """True when the bot declined (not covered or off topic)."""
        return self.status != "answered"


def unanswered_part(which: str) -> str:
    """The note after an answer to one of two questions: the guide does not cover the ``which`` one."""
    return f"My field guide doesn't cover your {which} question, so I won't guess at that part."


def cited_numbers(sentence: str) -> list[int]:
    """The ``[n]`` markers in a sentence."""
    return [int(m) for m in _MARK.findall(sentence)]


def strip_marks(sentence: str) -> str:
    """A sentence without its ``[n]`` markers."""
    return " ".join(_MARK.sub("", sentence).split())


def answer_sentences(answer: str) -> list[str]:
    """Sentences of an answer; a marker after the full stop stays with its sentence."""
    text = re.sub(r"([.!?])\s*((?:\[\d+\]\s*)+)", lambda m: f" {m.group(2).strip()}{m.group(1)} ", answer)
    return split_sentences(text)


def sentence_grounded(sentence: str, citations: list[Citation], min_overlap: float = 0.6) -> bool:
    """Whether ``sentence`` cites valid passages whose words cover most of its own content words."""
    nums = cited_numbers(sentence)
    by_n = {c.n: c for c in citations}
    if not nums or any(n not in by_n for n in nums):
        return False
    own = set(terms(strip_marks(sentence)))
    if not own:
        return True
    source = set()
    for n in nums:
        source.update(terms(by_n[n].text))
    return len(own & source) / len(own) >= min_overlap


def fully_grounded(reply: ChatReply) -> bool:
    """Every sentence of an answered reply is grounded (refusals count as grounded: nothing to back)."""
    if reply.refused:
        return True
    sentences = answer_sentences(reply.answer)
    return bool(sentences) and all(sentence_grounded(s, reply.citations) for s in sentences)
