"""One segment of a knowledge base: a folder written once, by an ingest (or a Ray worker) or by compaction.

    seg-<generation>-<hex8>/
        chunks.sqlite   chunk text and metadata (connectors/chunk_store.py), rows 0..n-1
        vectors.npy     float32 (n, dims): what the dense index holds, memory-mapped; re-training reads it
        dense.faiss     FaissIndex.build(vectors, spec), addressed by row
        bm25/           BM25Index over the rows (a compacted segment's holds the global ids)
        sentences/      the rows' sentence vectors (pipeline/kb/sentence_index.py), keyed by row
        ids.npy         only in a compacted segment: the sorted global ids of its rows

A segment does not know its global ids when it is written: the manifest record gives `base` (ids base + row) when
the knowledge base adopts it, or `explicit_ids` (ids.npy). Reads open nothing heavy until asked: the chunk store
is a file handle, the vectors a memory map, and the faiss and BM25 indexes load on their first search.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from kgsolver.connectors.chunk_store import STORE_FILE, Chunk, ChunkStore, StoredRow, write_store
from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.connectors.keyword_index import BM25Index
from kgsolver.connectors.vector_index import FaissIndex
from kgsolver.pipeline.kb import SegmentIds, as_ids, is_dead
from kgsolver.pipeline.kb.sentence_index import SentenceIndex

VECTORS_FILE, DENSE_FILE, BM25_DIR = "vectors.npy", "dense.faiss", "bm25"
SENTENCES_DIR, IDS_FILE = "sentences", "ids.npy"


def fsync_tree(path: Path) -> None:
    """Flush every file under `path` (and the folders' entries) to disk."""
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in paths:
        with p.open("rb") as handle:
            os.fsync(handle.fileno())
    for folder in ([path] if path.is_dir() else []) + [p for p in path.rglob("*") if p.is_dir()]:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def stored_chunk(row: StoredRow) -> Chunk:
    return Chunk(row.chunk_id, row.doc_id, row.title, row.text, row.start, row.end, json.loads(row.metadata))


def _store_rows(chunks: Iterable[Chunk]) -> Iterable[tuple[Any, ...]]:
    for row, c in enumerate(chunks):
        yield row, c.chunk_id, c.doc_id, c.title, c.text, c.start, c.end, json.dumps(c.metadata, ensure_ascii=False)


def write_sentences(folder: Path, chunks: list[Chunk], embedder: Embedder, *, show: bool = False) -> None:
    """The segment's sentence index, keyed by row (encoded now; `show`: a progress bar)."""
    SentenceIndex.encoded(dict(enumerate(chunks)), embedder, show=show).save(folder / SENTENCES_DIR)


def write_segment(folder: Path, chunks: list[Chunk], vectors: np.ndarray, embedder: Embedder | None = None,
                  spec: IndexSpec | None = None, *, ids: np.ndarray | None = None,
                  sentences: SentenceIndex | None = None) -> dict[str, Any]:
    """Write a new segment folder (it must not exist) and return its record for the manifest, without `base`: the
    knowledge base assigns the global ids when it adopts the segment (`KnowledgeBase.adopt_segment`). With an
    embedder the sentence index is written too, or `sentences` as given, keyed by row (else the ingest's sentence
    step adds it before the commit). `ids`
    (sorted global ids, one per chunk) is for compaction only: the rows keep the ids they had."""
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if not chunks:
        raise ValueError("a segment holds at least one chunk")
    folder.mkdir(parents=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    write_store(folder / STORE_FILE, _store_rows(chunks))
    np.save(folder / VECTORS_FILE, vectors)
    FaissIndex.build(vectors, spec or IndexSpec()).save(folder / DENSE_FILE)
    keys = as_ids(ids) if ids is not None else np.arange(len(chunks), dtype=np.int64)
    BM25Index.build(keys, [c.indexed_text() for c in chunks]).save(folder / BM25_DIR)
    if ids is not None:
        np.save(folder / IDS_FILE, keys)
    if sentences is not None:
        sentences.save(folder / SENTENCES_DIR)
    elif embedder is not None:
        write_sentences(folder, chunks, embedder)
    fsync_tree(folder)
    return {"name": folder.name, "rows": len(chunks), "documents": len({c.doc_id for c in chunks}),
            "explicit_ids": ids is not None}


class Segment:
    """A committed (or staged) segment, opened for reading."""

    def __init__(self, root: Path, record: dict[str, Any], dimensions: int) -> None:
        self.name: str = record["name"]
        self.rows, self.record = int(record["rows"]), record
        self.folder: Path = root / self.name
        self.dimensions = dimensions
        explicit = np.load(self.folder / IDS_FILE, mmap_mode="r") if record.get("explicit_ids") else None
        self.ids = SegmentIds(self.rows, None if explicit is not None else int(record["base"]), explicit)
        self.store = ChunkStore(self.folder / STORE_FILE)
        self._lock = threading.Lock()
        self._dense: FaissIndex | None = None  # loaded once, on the first search
        self._bm25: BM25Index | None = None

    @cached_property
    def vectors(self) -> np.ndarray:
        vectors: np.ndarray = np.load(self.folder / VECTORS_FILE, mmap_mode="r")
        return vectors

    @property
    def dense(self) -> FaissIndex:
        with self._lock:
            if self._dense is None:
                self._dense = FaissIndex.load(self.folder / DENSE_FILE, self.dimensions)
            return self._dense

    @property
    def bm25(self) -> BM25Index:
        with self._lock:
            if self._bm25 is None:
                self._bm25 = BM25Index.load(self.folder / BM25_DIR)
            return self._bm25

    @property
    def bm25_offset(self) -> int:
        """What `keyword_index.search_segments` adds to this segment's BM25 ids to make them global."""
        return 0 if self.ids.explicit is not None else int(self.ids.base or 0)

    @cached_property
    def sentences(self) -> SentenceIndex | None:
        folder = self.folder / SENTENCES_DIR
        return SentenceIndex.load(folder) if folder.is_dir() else None

    def has_sentences(self) -> bool:
        return (self.folder / SENTENCES_DIR).is_dir()

    def chunks(self, rows: np.ndarray) -> dict[int, Chunk]:
        """Row -> Chunk for these rows, read from the store."""
        return {row: stored_chunk(r) for row, r in self.store.rows(as_ids(rows).tolist()).items()}

    def search(self, queries: np.ndarray, k: int, dead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, global ids), (n_queries, k), ids -1 where empty: the best live rows. Tombstoned rows are
        skipped by asking for more hits until every query has k live ones (or the segment has no more)."""
        n, k = len(queries), min(k, self.rows)
        scores_out = np.zeros((n, k), dtype=np.float32)
        ids_out = np.full((n, k), -1, dtype=np.int64)
        if k == 0:
            return scores_out, ids_out
        mine = self.ids.dead_in(dead)
        ask = min(self.rows, k + len(mine) if len(mine) <= 4 * k else 2 * k)
        while True:
            scores, rows = self.dense.search(queries, ask)
            gids = np.where(rows >= 0, self.ids.to_global(np.maximum(rows, 0)).reshape(rows.shape), -1)
            live = (gids >= 0) & ~is_dead(gids.reshape(-1), mine).reshape(gids.shape)
            if ask >= self.rows or live.sum(axis=1).min() >= k:
                break
            ask = min(self.rows, ask * 4)
        for q in range(n):
            keep = np.flatnonzero(live[q])[:k]
            scores_out[q, : len(keep)], ids_out[q, : len(keep)] = scores[q, keep], gids[q, keep]
        return scores_out, ids_out

    def close(self) -> None:
        self.store.close()
