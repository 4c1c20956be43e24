"""Keyword retrieval: BM25 (bm25s) over titles and passages."""

from __future__ import annotations

from kgsolver.pipeline.retrieval.base import KBRetriever, valid_hits


class BM25Retriever(KBRetriever):
    name: str = "bm25"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        scores, ids = self.kb.bm25.search(queries, k)
        return valid_hits(scores, ids)
