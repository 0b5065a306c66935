"""Hybrid retrieval: dense MiniLM similarity and BM25, fused by reciprocal rank, steered by intent.

``Retriever.search`` ranks chunks (optionally only those of some species) for a
query. Scores are reciprocal-rank fusion of the two rankings plus a bonus for the
sections the question asks about, so "what does it eat?" lands on host plants even
when another section shares more words with the question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from butterflyer.chat.embed import Encoder
from butterflyer.chat.index import ChatIndex
from butterflyer.chat.intent import Intent

RRF_K = 20
INTENT_BONUS = (0.035, 0.025, 0.015)
GENERAL_SCALE = 0.4
TOPIC_BONUS = 0.01


@dataclass(frozen=True)
class Hit:
    """A ranked chunk with its fused score and raw signals."""

    idx: int
    score: float
    dense: float
    lexical: float


def rrf(rankings: list[np.ndarray], k: int = RRF_K) -> np.ndarray:
    """Reciprocal-rank fusion of several score arrays over the same items (higher is better)."""
    fused = np.zeros(len(rankings[0]), dtype=np.float64)
    for scores in rankings:
        order = np.argsort(-scores, kind="stable")
        ranks = np.empty(len(scores), dtype=np.int64)
        ranks[order] = np.arange(1, len(scores) + 1)
        fused += 1.0 / (k + ranks)
    return fused


def section_bonus(section: str, intent: Intent) -> float:
    """Extra score for a chunk whose section the question asks about (by cue strength)."""
    wanted = list(intent.sections)
    if "food" in wanted:
        pos = wanted.index("food")
        wanted[pos:pos + 1] = ["larval_host_plants", "adult_food"]
    if section not in wanted:
        return 0.0
    pos = wanted.index(section)
    return INTENT_BONUS[min(pos, len(INTENT_BONUS) - 1)]


class Retriever:
    """Searches one :class:`ChatIndex` with one encoder."""

    def __init__(self, index: ChatIndex, encoder: Encoder) -> None:
        self.index = index
        self.encoder = encoder

    def embed(self, text: str) -> np.ndarray:
        """The query vector."""
        return self.encoder.encode([text])[0]

    def search(self, query_vec: np.ndarray, lexical_query: str, intent: Intent,
               entries: list[str] | None = None, k: int = 8, general: bool = False) -> list[Hit]:
        """Top ``k`` chunks, restricted to ``entries`` when given.

        ``general``: the question names no species, so section cues count for less and the
        general topics get a small lead over species entries.
        """
        index = self.index
        if entries is None:
            cand = np.arange(len(index.chunks))
        else:
            cand = np.array(sorted(i for e in entries for i in index.by_entry.get(e, [])), dtype=np.int64)
        if len(cand) == 0:
            return []
        dense = index.dense(query_vec)[cand]
        lexical = index.bm25.scores(lexical_query)[cand]
        fused = rrf([dense, lexical]) if lexical.any() else rrf([dense])
        scale = GENERAL_SCALE if general else 1.0
        bonus = np.array([section_bonus(index.chunks[i].section, intent) * scale
                          + (TOPIC_BONUS if general and index.chunks[i].entry_kind == "topic" else 0.0)
                          for i in cand])
        total = fused + bonus
        order = np.argsort(-total, kind="stable")[:k]
        return [Hit(int(cand[j]), float(total[j]), float(dense[j]), float(lexical[j])) for j in order]
