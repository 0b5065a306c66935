"""Description-to-species questions: "orange and black butterflies on milkweed, what are they?".

When a question describes a butterfly or moth (colours, pattern, plant, place) instead of
naming one, the guide's identification, food-plant, range and habitat passages are
searched, scores are summed per species, and the best one or two are offered as
candidates, never as a certain identification.
"""

from __future__ import annotations

import re

import numpy as np

from butterflyer.chat.chunks import Chunk
from butterflyer.chat.index import ChatIndex
from butterflyer.chat.retrieve import rrf
from butterflyer.chat.text import normalize

_LOOKS = {"black", "white", "yellow", "orange", "red", "blue", "green", "brown", "pink", "purple", "grey",
          "gray", "silver", "gold", "golden", "cream", "metallic", "shiny", "iridescent", "striped",
          "stripes",
          "spots", "spotted", "spot", "bands", "banded", "eyespots", "eye", "tails", "tailed", "transparent",
          "see-through", "furry", "fluffy", "hovering", "hovers", "leaf", "rainbow", "88", "huge", "tiny",
          "rings", "veins", "comma", "zigzag", "colourful", "colorful", "bright"}
_KIND = re.compile(r"\b(butterfl(y|ies)|moths?|caterpillars?)\b")
_NOT = re.compile(r"^\s*(why|how|when|is|are|does|do|can|should)\b")
SECTIONS = {"identification": 1.0, "larval_host_plants": 0.5, "distribution": 0.5, "habitat": 0.4,
            "facts": 0.6, "life_cycle": 0.5}


def is_description(text: str) -> bool:
    """A question that describes an unnamed butterfly or moth."""
    norm = normalize(text)
    words = set(re.findall(r"[a-z0-9-]+", norm))
    return bool(_KIND.search(norm)) and bool(words & _LOOKS) and not _NOT.search(norm)


def candidates(index: ChatIndex, kinds: dict[str, str], vec: np.ndarray, lexical: str, text: str,
               k: int = 2) -> list[Chunk]:
    """Identification chunks of the ``k`` likeliest species (moths only if it says moth, etc.)."""
    norm = normalize(text)
    want = "moth" if re.search(r"\bmoths?\b", norm) else "butterfly" if "butterfl" in norm else None
    cand = np.array([i for i, c in enumerate(index.chunks)
                     if c.entry_kind == "species" and c.section in SECTIONS
                     and (want is None or kinds.get(c.entry) == want)], dtype=np.int64)
    if len(cand) == 0:
        return []
    dense = index.dense(vec)[cand]
    lex = index.bm25.scores(lexical)[cand]
    fused = rrf([dense, lex]) if lex.any() else rrf([dense])
    per: dict[str, float] = {}
    for score, i in zip(fused.tolist(), cand.tolist(), strict=True):
        c = index.chunks[i]
        per[c.entry] = per.get(c.entry, 0.0) + score * SECTIONS[c.section]
    ranked = sorted(per, key=lambda e: -per[e])[:k]
    out = [index.chunks[i] for e in ranked for i in index.by_entry.get(e, [])
           if index.chunks[i].section == "identification"]
    # a second candidate only when it is nearly as likely as the first
    if len(ranked) == 2 and per[ranked[1]] < 0.97 * per[ranked[0]]:
        out = out[:1]
    return out
