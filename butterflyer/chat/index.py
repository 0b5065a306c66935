"""The persistent chat index: chunk embeddings in an embedded LanceDB table, plus BM25 in memory.

Layout: ``<root>/<hash16>/`` holds the LanceDB table ``chunks`` and ``meta.json``
(guide hash, encoder, counts), written last. ``root`` defaults to
``paths.cache_dir()/chat-index``. The index is built on first use and rebuilt
whenever the guide's content hash (or the encoder) changes; a build goes to a temp
folder that is renamed into place, so concurrent processes never see half an index.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np

from butterflyer import paths
from butterflyer.chat.bm25 import BM25
from butterflyer.chat.chunks import Chunk, build_chunks
from butterflyer.chat.embed import Encoder
from butterflyer.chat.schema import FieldGuide
from butterflyer.errors import ChatError
from butterflyer.fileio import atomic_write_json

TABLE = "chunks"
FORMAT = 1


def default_root() -> Path:
    """``<BUTTERFLYER_HOME>/cache/chat-index``."""
    return paths.cache_dir() / "chat-index"


class ChatIndex:
    """Chunks, their embeddings (row-aligned) and a BM25 index over the same chunks."""

    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, folder: Path, rebuilt: bool) -> None:
        if len(chunks) != len(vectors):
            raise ChatError(f"chat index at {folder} is inconsistent; delete it and it will be rebuilt")
        self.chunks = chunks
        self.vectors = vectors
        self.folder = folder
        self.rebuilt = rebuilt
        self.bm25 = BM25([c.search_text for c in chunks])
        self.by_entry: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            self.by_entry.setdefault(c.entry, []).append(i)

    def dense(self, query_vec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every chunk."""
        return self.vectors @ query_vec.astype(np.float32)


def _key(guide: FieldGuide, encoder: Encoder) -> str:
    import hashlib

    return hashlib.sha256(f"{FORMAT}:{encoder.name}:{guide.content_hash}".encode()).hexdigest()[:16]


def _build(folder: Path, chunks: list[Chunk], encoder: Encoder, guide: FieldGuide) -> np.ndarray:
    import lancedb

    vectors = encoder.encode([c.search_text for c in chunks])
    db = lancedb.connect(str(folder))
    rows = [{"id": c.id, "entry": c.entry, "section": c.section, "text": c.search_text,
             "chunk": json.dumps(asdict(c)), "vector": vectors[i].tolist()} for i, c in enumerate(chunks)]
    db.create_table(TABLE, data=rows, mode="overwrite")
    atomic_write_json(folder / "meta.json", {"format": FORMAT, "guide_hash": guide.content_hash,
                                             "encoder": encoder.name, "dim": int(vectors.shape[1]),
                                             "chunks": len(chunks)})
    return vectors


def _load(folder: Path) -> tuple[list[Chunk], np.ndarray]:
    import lancedb

    table = lancedb.connect(str(folder)).open_table(TABLE)
    arrow = table.to_arrow()
    chunks = []
    for raw in arrow.column("chunk").to_pylist():
        data = json.loads(raw)
        data["sentences"] = tuple(data["sentences"])
        chunks.append(Chunk(**data))
    vectors = np.asarray(arrow.column("vector").to_pylist(), dtype=np.float32)
    return chunks, vectors


def open_index(guide: FieldGuide, encoder: Encoder, root: str | Path | None = None) -> ChatIndex:
    """Open the index for ``guide``, building it first when missing or stale."""
    base = Path(root) if root is not None else default_root()
    base.mkdir(parents=True, exist_ok=True)
    key = _key(guide, encoder)
    folder = base / key
    if (folder / "meta.json").is_file():
        try:
            chunks, vectors = _load(folder)
            if chunks == build_chunks(guide):
                return ChatIndex(chunks, vectors, folder, rebuilt=False)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
            pass
        shutil.rmtree(folder, ignore_errors=True)
    chunks = build_chunks(guide)
    if not chunks:
        raise ChatError("the field guide is empty; add species/*.yaml entries under butterflyer/chat/guide")
    tmp = base / f".build-{uuid.uuid4().hex[:8]}"
    try:
        vectors = _build(tmp, chunks, encoder, guide)
        try:
            tmp.rename(folder)
        except OSError:  # another process won the race; its index is equivalent
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for stale in base.iterdir():
        if stale.is_dir() and stale.name != key and not stale.name.startswith(".build-"):
            shutil.rmtree(stale, ignore_errors=True)
    return ChatIndex(chunks, vectors, folder, rebuilt=True)
