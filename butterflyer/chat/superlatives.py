"""Superlatives read from the guide's own sentences, where it has no field to rank.

The guide has no distance or range-size field, but its sentences state both: distances in
kilometres ("a round trip of more than 12,000 kilometres") and worldwide claims ("one of the
most widespread butterflies in the world"). "Which butterfly migrates farthest" is answered
from the largest stated distance and "which one is found in the most places" from the
worldwide claims, quoting the sentences, so every figure is one the guide already says.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from butterflyer.chat.chunks import Chunk
from butterflyer.chat.text import normalize

_ASK = re.compile(r"\b(longest|furthest|farthest|biggest|greatest|largest) (yearly |annual )?"
                  r"(migration|journey|trip|distance)|"
                  r"\bmigrat\w* (the )?(furthest|farthest|longest|most|further|farther)\b|"
                  r"\b(flies|fly|travels?|goes|go) (the )?(furthest|farthest)\b")
_DISTANCE = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)\s*(km|kilomet(?:re|er)s?)\b")
_MIGRATES = re.compile(r"\bmigrat\w*|\bjourney\b|\bround trip\b|\bflown\b")


def asks_farthest_migrant(text: str) -> bool:
    """Whether a question asks which species migrates farthest ("which butterfly does the longest
    migration", "which one on your list migrates the furthest")."""
    return bool(_ASK.search(normalize(text)))


def distance_km(sentence: str) -> int | None:
    """The largest distance in kilometres a migration sentence states, or ``None``."""
    if not _MIGRATES.search(sentence.lower()):
        return None
    found = [int(m.group(1).replace(",", "")) for m in _DISTANCE.finditer(sentence.lower())]
    return max(found, default=None)


def farthest_migrant(chunks: Iterable[Chunk], entries: Collection[str], places: Collection[str] = ()
                     ) -> tuple[Chunk, int, int] | None:
    """``(chunk, sentence index, km)`` of the sentence of one of ``entries`` (species labels) that
    states the longest migration; with ``places`` (a region's place words), only a migration the
    sentence places there ("which North American butterfly migrates farthest")."""
    best: tuple[Chunk, int, int] | None = None
    for chunk in chunks:
        if chunk.entry_kind != "species" or chunk.entry not in entries:
            continue
        for j, sentence in enumerate(chunk.sentences):
            km = distance_km(sentence)
            if places and not any(re.search(rf"\b{re.escape(p)}\b", normalize(sentence)) for p in places):
                continue
            if km is not None and (best is None or km > best[2]):
                best = (chunk, j, km)
    return best


def saying(chunks: Iterable[Chunk], entries: Collection[str], pattern: re.Pattern[str]
           ) -> list[tuple[Chunk, int]]:
    """``(chunk, sentence index)`` of every sentence of one of ``entries`` (species labels) that ``pattern``
    finds, lower-cased: the claims the guide states in words, in guide order."""
    return [(chunk, j) for chunk in chunks if chunk.entry_kind == "species" and chunk.entry in entries
            for j, sentence in enumerate(chunk.sentences) if pattern.search(sentence.lower())]


# "Which butterfly is found in the most places": the guide states this one in words ("one of the most
# widespread butterflies in the world"), so the sentence that says so answers it.
_WIDESPREAD_ASK = re.compile(r"\b(most|more) (places|countries|continents|widespread|widely)\b|"
                             r"\bfound (in|on) the most\b|\b(widest|biggest|largest) (range|distribution)\b")
_WIDESPREAD_SAYS = re.compile(r"\bmost widespread\b|\bwidest range\b|\bfound on every continent\b")


def asks_most_widespread(text: str) -> bool:
    """Whether a question asks which species is the most widespread."""
    return bool(_WIDESPREAD_ASK.search(normalize(text)))


def most_widespread(chunks: Iterable[Chunk], entries: Collection[str]) -> list[tuple[Chunk, int]]:
    """``(chunk, sentence index)`` of every sentence of one of ``entries`` that calls its species one of
    the most widespread in the world (not "in North America"); a sentence that calls it *the* most
    widespread stands above those calling theirs "one of" them."""
    found = [(c, j) for c, j in saying(chunks, entries, _WIDESPREAD_SAYS)
             if "world" in c.sentences[j].lower()]
    first = [(c, j) for c, j in found if not re.search(r"\bone of\b", c.sentences[j].lower())]
    return first or found


# "Which one is the most poisonous / recognisable / famous": a claim the guide makes in words ("often
# described as the most poisonous butterfly in Africa"); the sentences that make it answer, in order.
_MOST_ASK = re.compile(r"\b(which|what)\b.*\b(?:the|is|are) most ([a-z]{4,})\b")
_SAME = {"poisonous": ("poison", "toxic"), "toxic": ("poison", "toxic"),
         "colourful": ("colourful", "colorful"), "colorful": ("colourful", "colorful")}
# handled by their own rules (ranked from fields or from the widespread claims)
_OWN_RULE = {"widespread", "places", "countries", "continents", "widely"}


def asked_most(text: str) -> str | None:
    """The adjective of a "which one is the most X" question ("poisonous"), or ``None``."""
    m = _MOST_ASK.search(normalize(text))
    return m.group(2) if m and m.group(2) not in _OWN_RULE else None


def most_stated(chunks: Iterable[Chunk], entries: Collection[str], adjective: str) -> list[tuple[Chunk, int]]:
    """``(chunk, sentence index)`` of every sentence of one of ``entries`` that calls its species the most
    ``adjective`` (or a word of the same meaning)."""
    forms = _SAME.get(adjective, (adjective[:6],))
    return saying(chunks, entries, re.compile(r"\bmost (" + "|".join(re.escape(f) for f in forms) + r")\w*"))


# "Which butterfly lives longest as an adult": the guide says it in words ("one of the longest lifespans of
# any butterfly"), never as a field
_LONGEST_LIVED_ASK = re.compile(r"\b(lives?|living|survives?) (the )?longest\b|\blongest[- ]lived\b|"
                                r"\blongest (life|lifespan|life span|lives)\b")
_LONGEST_LIVED_SAYS = re.compile(r"\blongest (lifespans?|lives|life)\b|\blongest[- ]lived\b")


def asks_longest_lived(text: str) -> bool:
    """Whether a question asks which species lives longest."""
    return bool(_LONGEST_LIVED_ASK.search(normalize(text)))


def longest_lived(chunks: Iterable[Chunk], entries: Collection[str]) -> list[tuple[Chunk, int]]:
    """``(chunk, sentence index)`` of every sentence of one of ``entries`` that says its species has one of
    the longest lives."""
    return saying(chunks, entries, _LONGEST_LIVED_SAYS)


# "Which moth has the longest tails": a claim the guide makes in words ("among the longest tails of any
# moth"); size words are ranked from the wingspan field instead
_EST_ASK = re.compile(r"\b(?:which|what)\b[^?.!]*?\b(longest|shortest|fastest|brightest|heaviest|loudest|"
                      r"highest|hairiest|strongest) ([a-z]{3,})")


def asked_est(text: str) -> tuple[str, str] | None:
    """``(adjective, noun)`` of a "which one has the longest tails" question, or ``None``."""
    m = _EST_ASK.search(normalize(text))
    return (m.group(1), m.group(2)) if m else None


def est_stated(chunks: Iterable[Chunk], entries: Collection[str], adjective: str, noun: str
               ) -> list[tuple[Chunk, int]]:
    """``(chunk, sentence index)`` of every sentence of one of ``entries`` that says "<adjective> <noun>"."""
    return saying(chunks, entries, re.compile(rf"\b{adjective} {re.escape(noun[:4])}\w*"))
