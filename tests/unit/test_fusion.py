"""Reciprocal-rank fusion: the one formula (rrf_score), hybrid search's fusion, and the multi-hop evidence pools
(EvidencePool: weighted fusion with provenance; HopEvidence: anchors, then first and next hop taking turns)."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from kgsolver.pipeline.multihop import EvidencePool, HopEvidence
from kgsolver.pipeline.retrieval import reciprocal_rank_fusion, rrf_score


def docs(*cids: int, tool: str = "t") -> list[Document]:
    return [Document(f"passage {c}", metadata={"cid": c, "doc_id": f"d{c}", "retriever": tool, "title": f"t{c}"})
            for c in cids]


def test_rrf_score_is_weight_over_k_plus_one_based_rank():
    assert rrf_score(0, 60) == pytest.approx(1 / 61)
    assert rrf_score(2, 10, weight=0.5) == pytest.approx(0.5 / 13)


def test_hybrid_fusion_rewards_agreement_and_breaks_ties_by_id():
    dense = [(7, 0.9), (3, 0.8), (5, 0.1)]
    bm25 = [(3, 12.0), (9, 11.0)]
    fused = reciprocal_rank_fusion([dense, bm25], rrf_k=60, k=3)
    assert [cid for cid, _ in fused] == [3, 7, 9]  # found by both beats first in one
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert [cid for cid, _ in reciprocal_rank_fusion([[(4, 1.0)], [(2, 1.0)]], 60, 2)] == [2, 4]


def test_evidence_pool_combines_weighted_lists_and_keeps_every_finder():
    pool = EvidencePool(rrf_k=10)
    pool.add(docs(1, 2, tool="dense"))
    pool.add(docs(2, 3, tool="bm25"), weight=2.0)
    assert pool.scores[2] == pytest.approx(1 / 12 + 2 / 11)
    ranked = pool.ranked()
    assert [d.metadata["cid"] for d in ranked] == [2, 3, 1]  # the weighted list's top beats the plain one's
    assert ranked[0].metadata["found_by"] == ["dense", "bm25"] and ranked[2].metadata["found_by"] == ["dense"]
    assert ranked[0].metadata["score"] == round(pool.scores[2], 5)
    assert [d.metadata["cid"] for d in pool.ranked(1)] == [2]


def test_hop_evidence_anchors_then_alternates_first_and_next_hop():
    hops = HopEvidence(rrf_k=10)
    hops.first.add(docs(1, 2, 3, 4))
    hops.next.add(docs(9, 3, 8))  # 3 is a first-hop hit too: listed once, where it comes first
    assert [d.metadata["cid"] for d in hops.ranked()] == [1, 9, 2, 3, 8, 4]
    hops.anchors = {"d4"}  # a passage the question names leads
    assert [d.metadata["cid"] for d in hops.ranked()] == [4, 1, 9, 2, 3, 8]
    hops.picked.add(docs(7, 8))  # LLM-directed passages take turns with the LLM-free expansions
    assert [d.metadata["cid"] for d in hops.ranked(5)] == [4, 1, 9, 2, 7]
