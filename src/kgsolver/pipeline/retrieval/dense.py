"""Dense retrieval: the embedder's cosine similarity over the faiss index."""

from __future__ import annotations

import numpy as np

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.retrieval.base import KBRetriever, valid_hits


class DenseRetriever(KBRetriever):
    embedder: Embedder
    name: str = "dense"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        return self.search_vectors(self.embedder.encode(queries), k)

    def search_vectors(self, vectors: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        scores, ids = self.kb.dense.search(vectors, k)
        return valid_hits(scores, ids)
