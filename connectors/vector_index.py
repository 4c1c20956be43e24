"""Dense vector index on faiss: exact inner product over normalised vectors, addressed by stable int64 chunk ids.

faiss-gpu is used for search when installed and a GPU is present; the persisted index is always the CPU form.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np


def gpu_count() -> int:
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


@dataclass(frozen=True)
class IndexSpec:
    """How a segment's vectors are indexed (filled from the pipeline's `VectorIndexSettings`)."""

    flat_below: int = 50_000  # exact search is fast enough below this many vectors, and needs no training


class FaissIndex:
    def __init__(self, dimensions: int, index: faiss.Index | None = None) -> None:
        self.dimensions = dimensions
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimensions))
        self._search_index: faiss.Index | None = None  # GPU copy, built lazily

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, spec: IndexSpec | None = None) -> "FaissIndex":
        """An index over these vectors, addressed by their row numbers 0..n-1 (a segment's local ids)."""
        index = cls(vectors.shape[1])
        index.add(np.arange(len(vectors), dtype=np.int64), vectors)
        return index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
            self._search_index = None

    def remove(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        self._search_index = None
        return int(self.index.remove_ids(faiss.IDSelectorArray(ids.astype(np.int64))))

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these ids (what ingest encoded), shape (len(ids), dimensions)."""
        if not ids:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self.index.reconstruct(int(i)) for i in ids])

    def _searcher(self) -> faiss.Index:
        if self._search_index is None:
            self._search_index = self.index
            if gpu_count() > 0:
                self._search_index = faiss.index_cpu_to_all_gpus(self.index)
        return self._search_index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of shape (n_queries, k'); ids of -1 mark empty slots."""
        k = min(k, len(self))
        if k == 0:
            n = len(queries)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self._searcher().search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, dimensions: int) -> "FaissIndex":
        index = faiss.read_index(str(path))
        if index.d != dimensions:
            raise ValueError(f"{path}: index has {index.d} dimensions, the manifest says {dimensions}")
        return cls(dimensions, index)
