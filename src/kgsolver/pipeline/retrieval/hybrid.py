"""Hybrid retrieval: dense and BM25 candidates fused by reciprocal rank (Cormack et al., 2009)."""

from __future__ import annotations

from kgsolver.pipeline.retrieval.base import KBRetriever


def rrf_score(rank: int, rrf_k: int, weight: float = 1.0) -> float:
    """The one reciprocal-rank formula (0-based rank): hybrid search here, the multi-hop evidence pools too."""
    return weight / (rrf_k + rank + 1)


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], rrf_k: int, k: int) -> list[tuple[int, float]]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (cid, _score) in enumerate(ranking):
            fused[cid] = fused.get(cid, 0.0) + rrf_score(rank, rrf_k)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]


class HybridRetriever(KBRetriever):
    retrievers: list[KBRetriever]
    candidates: int = 30
    rrf_k: int = 60
    name_: str = "hybrid"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        per_retriever = [r.scored_ids(queries, self.candidates) for r in self.retrievers]
        return [reciprocal_rank_fusion([hits[q] for hits in per_retriever], self.rrf_k, k) for q in range(len(queries))]
