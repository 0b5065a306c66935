"""The persistent chat index: chunk embeddings in an embedded LanceDB table, plus BM25 in memory.

Layout: ``<root>/<hash16>/`` holds the LanceDB tables ``chunks`` and ``sentences`` (one
vector per citable sentence, so the planner can tell which sentence of a section means what
the question asks even when no word is shared) and ``meta.json`` (guide hash, encoder,
counts), written last. ``root`` defaults to
``paths.cache_dir()/chat-index``. The index is built on first use and rebuilt
whenever the guide's content hash (or the encoder) changes; a build goes to a temp
folder that is renamed into place, so concurrent processes never see half an index.
"""

from __future__ import annotations

import json
import logging
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

log = logging.getLogger(__name__)

TABLE = "chunks"
SENTENCE_TABLE = "sentences"
FORMAT = 2


def default_root() -> Path:
    """``<BUTTERFLYER_HOME>/cache/chat-index``."""
    return paths.cache_dir() / "chat-index"


class ChatIndex:
    """Chunks, their embeddings (row-aligned) and a BM25 index over the same chunks."""

    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, folder: Path, rebuilt: bool,
                 sentence_vectors: np.ndarray | None = None) -> None:
        if len(chunks) != len(vectors):
            raise ChatError(f"chat index at {folder} is inconsistent; delete it and it will be rebuilt")
        n_sentences = sum(len(c.sentences) for c in chunks)
        if sentence_vectors is not None and len(sentence_vectors) != n_sentences:
            raise ChatError(f"chat index at {folder} has {len(sentence_vectors)} sentence vectors for "
                            f"{n_sentences} sentences; delete it and it will be rebuilt")
        self.chunks = chunks
        self.vectors = vectors
        # row of each chunk's first sentence in ``sentence_vectors`` (chunk order, then sentence order)
        self.sentence_start: dict[str, int] = {}
        row = 0
        for c in chunks:
            self.sentence_start[c.id] = row
            row += len(c.sentences)
        self.sentence_vectors = sentence_vectors
        self.folder = folder
        self.rebuilt = rebuilt
        self.bm25 = BM25([c.search_text for c in chunks])
        self.by_entry: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            self.by_entry.setdefault(c.entry, []).append(i)

    def dense(self, query_vec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to every chunk."""
        return self.vectors @ query_vec.astype(np.float32)

    def sentence_sims(self, query_vec: np.ndarray) -> np.ndarray | None:
        """Cosine similarity of the query to every sentence (``None`` for an index without them)."""
        if self.sentence_vectors is None:
            return None
        return self.sentence_vectors @ query_vec.astype(np.float32)


def _key(guide: FieldGuide, encoder: Encoder) -> str:
    import hashlib

    return hashlib.sha256(f"{FORMAT}:{encoder.name}:{guide.content_hash}".encode()).hexdigest()[:16]


def _build(folder: Path, chunks: list[Chunk], encoder: Encoder, guide: FieldGuide
           ) -> tuple[np.ndarray, np.ndarray]:
    import lancedb

    vectors = encoder.encode([c.search_text for c in chunks])
    sentences = [(c.id, j, s) for c in chunks for j, s in enumerate(c.sentences)]
    sentence_vectors = encoder.encode([s for _, _, s in sentences])
    db = lancedb.connect(str(folder))
    rows = [{"id": c.id, "entry": c.entry, "section": c.section, "text": c.search_text,
             "chunk": json.dumps(asdict(c)), "vector": vectors[i].tolist()} for i, c in enumerate(chunks)]
    db.create_table(TABLE, data=rows, mode="overwrite")
    sentence_rows = [{"row": i, "chunk": cid, "j": j, "vector": sentence_vectors[i].tolist()}
                     for i, (cid, j, _) in enumerate(sentences)]
    db.create_table(SENTENCE_TABLE, data=sentence_rows, mode="overwrite")
    atomic_write_json(folder / "meta.json", {"format": FORMAT, "guide_hash": guide.content_hash,
                                             "encoder": encoder.name, "dim": int(vectors.shape[1]),
                                             "chunks": len(chunks), "sentences": len(sentences)})
    return vectors, sentence_vectors


def _load(folder: Path) -> tuple[list[Chunk], np.ndarray, np.ndarray]:
    import lancedb

    db = lancedb.connect(str(folder))
    table = db.open_table(TABLE)
    arrow = table.to_arrow()
    chunks = []
    for raw in arrow.column("chunk").to_pylist():
        data = json.loads(raw)
        data["sentences"] = tuple(data["sentences"])
        chunks.append(Chunk(**data))
    vectors = np.asarray(arrow.column("vector").to_pylist(), dtype=np.float32)
    sent = db.open_table(SENTENCE_TABLE).to_arrow().sort_by("row")
    sentence_vectors = np.asarray(sent.column("vector").to_pylist(), dtype=np.float32)
    return chunks, vectors, sentence_vectors


def open_index(guide: FieldGuide, encoder: Encoder, root: str | Path | None = None) -> ChatIndex:
    """Open the index for ``guide``, building it first when missing or stale."""
    base = Path(root) if root is not None else default_root()
    base.mkdir(parents=True, exist_ok=True)
    key = _key(guide, encoder)
    folder = base / key
    if (folder / "meta.json").is_file():
        try:
            chunks, vectors, sentence_vectors = _load(folder)
            if chunks == build_chunks(guide):
                return ChatIndex(chunks, vectors, folder, rebuilt=False, sentence_vectors=sentence_vectors)
        except Exception as exc:  # noqa: BLE001 - lancedb/arrow raise many types; a cache is rebuilt
            log.warning("chat index at %s is damaged (%s: %s); rebuilding it", folder, type(exc).__name__,
                        exc)
        shutil.rmtree(folder, ignore_errors=True)
    chunks = build_chunks(guide)
    if not chunks:
        raise ChatError("the field guide is empty; add species/*.yaml entries under butterflyer/chat/guide")
    tmp = base / f".build-{uuid.uuid4().hex[:8]}"
    try:
        vectors, sentence_vectors = _build(tmp, chunks, encoder, guide)
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
    return ChatIndex(chunks, vectors, folder, rebuilt=True, sentence_vectors=sentence_vectors)
