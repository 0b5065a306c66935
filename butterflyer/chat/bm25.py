"""Okapi BM25 over chunk texts: the lexical half of hybrid retrieval (names, rare words)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from butterflyer.chat.text import terms


class BM25:
    """A small in-memory BM25 index; ``scores(query)`` returns one score per document."""

    def __init__(self, docs: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tf = [Counter(terms(d)) for d in docs]
        lengths = np.array([sum(tf.values()) for tf in self._tf], dtype=np.float32)
        self._len = lengths
        self._avg = float(lengths.mean()) if len(lengths) else 1.0
        df: Counter[str] = Counter()
        for tf in self._tf:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._postings: dict[str, list[tuple[int, int]]] = {}
        for i, tf in enumerate(self._tf):
            for t, c in tf.items():
                self._postings.setdefault(t, []).append((i, c))

    def __len__(self) -> int:
        return len(self._tf)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (0 where no term matches)."""
        out = np.zeros(len(self._tf), dtype=np.float32)
        norm = self.k1 * (1 - self.b + self.b * self._len / max(self._avg, 1e-6))
        for t in set(terms(query)):
            idf = self.idf.get(t)
            if idf is None:
                continue
            for i, c in self._postings[t]:
                out[i] += idf * c * (self.k1 + 1) / (c + norm[i])
        return out
