"""BM25 keyword index on bm25s, rebuilt from all chunk texts on each commit (seconds even for 100k chunks)."""

from __future__ import annotations

import logging
from pathlib import Path

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
