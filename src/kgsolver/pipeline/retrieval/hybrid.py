"""Hybrid retrieval: dense and BM25 candidates fused by reciprocal rank (Cormack et al., 2009)."""

from __future__ import annotations

from collections.abc import Iterable

from kgsolver.pipeline.retrieval.base import KBRetriever


def rrf_score(rank: int, rrf_k: int, weight: float = 1.0) -> float:
    """The one reciprocal-rank formula (0-based rank): hybrid search here, the multi-hop evidence pools too."""
    return weight / (rrf_k + rank + 1)


class RankFusion:
    """The one rank fusion: each ranked list of chunk ids adds `rrf_score` (times its weight) to each id; ranked by
    the summed score, ties by id. Hybrid search fuses its retrievers with it, the multi-hop evidence pools
    (pipeline/multihop/evidence.py) their tools' lists."""

    def __init__(self, rrf_k: int) -> None:
        self.rrf_k = rrf_k
        self.scores: dict[int, float] = {}

    def add(self, ids: Iterable[int], weight: float = 1.0) -> None:
        for rank, cid in enumerate(ids):
            self.scores[cid] = self.scores.get(cid, 0.0) + rrf_score(rank, self.rrf_k, weight)

    def ranked(self, k: int | None = None) -> list[tuple[int, float]]:
        return sorted(self.scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], rrf_k: int, k: int) -> list[tuple[int, float]]:
    fusion = RankFusion(rrf_k)
    for ranking in rankings:
        fusion.add(cid for cid, _score in ranking)
    return fusion.ranked(k)


class HybridRetriever(KBRetriever):
    retrievers: list[KBRetriever]
    candidates: int = 30
    rrf_k: int = 60
    name: str = "hybrid"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        per_retriever = [r.scored_ids(queries, self.candidates) for r in self.retrievers]
        return [reciprocal_rank_fusion([hits[q] for hits in per_retriever], self.rrf_k, k) for q in range(len(queries))]
