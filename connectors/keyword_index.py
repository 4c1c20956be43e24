"""BM25 keyword index on bm25s, rebuilt from all chunk texts on each commit (seconds even for 100k chunks)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np

# bm25s sets its logger to DEBUG when imported, so "Building index from IDs" reached every console; its level goes
# back to the application's (NOTSET: the root logger decides).
logging.getLogger("bm25s").setLevel(logging.NOTSET)

try:
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english")
except ImportError:  # bm25s works without stemming, only less well
    _STEMMER = None


class BM25Index:
    def __init__(self, retriever: bm25s.BM25 | None, ids: np.ndarray):
        self.retriever = retriever
        self.ids = ids  # row position -> chunk id

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str]) -> "BM25Index":
        if not texts:
            return cls(None, np.zeros(0, dtype=np.int64))
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64))

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids); a query with no known term returns fewer hits (ids of -1, scores 0)."""
        n = len(queries)
        k = min(k, len(self))
        if k == 0 or self.retriever is None:
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        tokens = bm25s.tokenize(queries, stopwords="en", stemmer=_STEMMER, show_progress=False)
        rows, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        ids = np.where(scores > 0, self.ids[rows], -1)
        return scores.astype(np.float32), ids.astype(np.int64)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "chunk_ids.npy", self.ids)
        if self.retriever is not None:
            self.retriever.save(str(folder))

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        ids = np.load(folder / "chunk_ids.npy")
        retriever = bm25s.BM25.load(str(folder)) if len(ids) else None
        return cls(retriever, ids)


def search_segments(parts: Sequence[tuple[BM25Index, int]], queries: list[str], k: int,
                    deleted: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """BM25 over several segments: each part is (index, offset), a hit's global id is offset + its id in the index;
    ids in `deleted` (sorted global ids) are dropped. Returns (scores, ids) of shape (len(queries), k), ids -1 where
    empty."""
    n = len(queries)
    out_scores = np.zeros((n, k), dtype=np.float32)
    out_ids = np.full((n, k), -1, dtype=np.int64)
    dead = deleted if deleted is not None else np.zeros(0, dtype=np.int64)
    per_part = [(index.search(queries, k + len(dead)), offset) for index, offset in parts]
    for q in range(n):
        hits: list[tuple[float, int]] = []
        for (scores, ids), offset in per_part:
            for score, cid in zip(scores[q].tolist(), ids[q].tolist()):
                if cid >= 0 and not np.isin(offset + cid, dead):
                    hits.append((score, offset + cid))
        hits.sort(key=lambda h: -h[0])
        for rank, (score, cid) in enumerate(hits[:k]):
            out_scores[q, rank], out_ids[q, rank] = score, cid
    return out_scores, out_ids
