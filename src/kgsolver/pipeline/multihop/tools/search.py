"""Dense and keyword search as agent tools: the knowledge base's retrievers themselves (pipeline/retrieval), named
as the multi-hop modes' tools, so that those modes search with the same code as naive retrieval. Both are a `Search`
(retrieval/base.py), as the graph tools are; a plain retriever ignores the seeds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgsolver.pipeline.retrieval import BM25Retriever, DenseRetriever

if TYPE_CHECKING:
    from kgsolver.pipeline.multihop.resources import AgentResources


def dense_search(resources: AgentResources) -> DenseRetriever:
    """Semantic search over passages."""
    return DenseRetriever(kb=resources.kb, embedder=resources.embedder, name="dense_search")


def bm25_search(resources: AgentResources) -> BM25Retriever:
    """Keyword search over passages (names, rare words)."""
    return BM25Retriever(kb=resources.kb, name="bm25_search")
